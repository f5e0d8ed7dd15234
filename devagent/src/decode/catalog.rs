//! Request bodies of the catalog endpoints: `PUT /v1/catalog/register` and
//! `PUT /v1/catalog/deregister`, the shared wire types.

use consul_wire::RawWeights;

/// A check inside a catalog registration, with its status as sent
/// (validated by the store). Its `Definition` is recorded, never run.
pub(crate) type CatalogCheckIn = consul_wire::HealthCheckOf<String>;

/// The body of `PUT /v1/catalog/register`, with check statuses and the
/// service's weights as sent (validated by the store).
pub(crate) type CatalogRegister = consul_wire::CatalogRegistrationOf<String, RawWeights>;

/// The body of `PUT /v1/catalog/deregister`.
pub(crate) type CatalogDeregister = consul_wire::CatalogDeregistration;
