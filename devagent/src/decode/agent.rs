//! Request bodies of the agent endpoints: service and check registration
//! and check updates.

use consul_wire::RawWeights;
use serde::Deserialize;

/// A check inside a service definition, or the body of `check/register`:
/// the shared wire type, with the status as sent (validated by the store).
pub(crate) type CheckIn = consul_wire::CheckRegistrationOf<String>;

/// The body of `PUT /v1/agent/service/register`: the shared wire type, with
/// check statuses and weights as sent (validated by the store).
pub(crate) type ServiceDefinition = consul_wire::ServiceRegistrationOf<String, RawWeights>;

/// The body of `PUT /v1/agent/check/update/:id`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct CheckUpdate {
    #[serde(rename = "Status", default)]
    pub(crate) status: String,
    #[serde(rename = "Output", default)]
    pub(crate) output: String,
}
