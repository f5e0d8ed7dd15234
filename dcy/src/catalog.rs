//! `/v1/catalog/*`, `/v1/health/*` and `/v1/status/*` reads.

use std::collections::BTreeMap;

use crate::client::{segment, Client, QueryMeta, QueryOptions};
use crate::error::Result;
use crate::types::{CatalogService, HealthCheck, Node, ServiceEntry};

impl Client {
    /// `GET /v1/catalog/services`: service names and their tags.
    pub async fn catalog_services(
        &self,
        q: &QueryOptions,
    ) -> Result<(BTreeMap<String, Vec<String>>, QueryMeta)> {
        self.read_json("/v1/catalog/services", &[], q).await
    }

    /// `GET /v1/catalog/service/:name`: every instance, whatever its health.
    pub async fn catalog_service(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<CatalogService>, QueryMeta)> {
        self.read_json(&format!("/v1/catalog/service/{}", segment(name)), &[], q)
            .await
    }

    /// `GET /v1/catalog/nodes`.
    pub async fn catalog_nodes(&self, q: &QueryOptions) -> Result<(Vec<Node>, QueryMeta)> {
        self.read_json("/v1/catalog/nodes", &[], q).await
    }

    /// `GET /v1/catalog/datacenters`.
    pub async fn catalog_datacenters(&self) -> Result<Vec<String>> {
        Ok(self
            .read_json("/v1/catalog/datacenters", &[], &QueryOptions::default())
            .await?
            .0)
    }

    /// `GET /v1/health/service/:name`: instances with their checks
    /// (`q.passing` keeps only instances whose checks all pass).
    pub async fn health_service(
        &self,
        name: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<ServiceEntry>, QueryMeta)> {
        self.read_json(&format!("/v1/health/service/{}", segment(name)), &[], q)
            .await
    }

    /// `GET /v1/health/checks/:service`.
    pub async fn health_checks(
        &self,
        service: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<HealthCheck>, QueryMeta)> {
        self.read_json(&format!("/v1/health/checks/{}", segment(service)), &[], q)
            .await
    }

    /// `GET /v1/health/node/:node`.
    pub async fn health_node(
        &self,
        node: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<HealthCheck>, QueryMeta)> {
        self.read_json(&format!("/v1/health/node/{}", segment(node)), &[], q)
            .await
    }

    /// `GET /v1/health/state/:state` (`any`, `passing`, `warning`, `critical`).
    pub async fn health_state(
        &self,
        state: &str,
        q: &QueryOptions,
    ) -> Result<(Vec<HealthCheck>, QueryMeta)> {
        self.read_json(&format!("/v1/health/state/{}", segment(state)), &[], q)
            .await
    }

    /// Any read endpoint as raw JSON (`path` starts with `/v1/`); a 404 reads as `null`.
    pub async fn get_value(
        &self,
        path: &str,
        q: &QueryOptions,
    ) -> Result<(serde_json::Value, QueryMeta)> {
        let raw = self.read(path, &[], q, true).await?;
        if raw.status == http::StatusCode::NOT_FOUND {
            return Ok((serde_json::Value::Null, raw.meta));
        }
        let v = serde_json::from_slice(&raw.body)
            .map_err(|e| crate::Error::decode(&format!("GET {path}"), e))?;
        Ok((v, raw.meta))
    }

    /// Any read endpoint with extra query parameters, as raw JSON. Every
    /// status but 200 is an error: a 404 [`is_not_found`](crate::Error::is_not_found)
    /// and its message carries Consul's body (an endpoint this Consul does
    /// not serve says `Invalid URL path`).
    pub async fn get_json(
        &self,
        path: &str,
        params: &[(String, String)],
        q: &QueryOptions,
    ) -> Result<(serde_json::Value, QueryMeta)> {
        self.read_json(path, params, q).await
    }

    /// `GET /v1/status/leader`: the Raft leader's address (empty without a leader).
    pub async fn status_leader(&self) -> Result<String> {
        Ok(self
            .read_json("/v1/status/leader", &[], &QueryOptions::default())
            .await?
            .0)
    }

    /// `GET /v1/status/peers`.
    pub async fn status_peers(&self) -> Result<Vec<String>> {
        Ok(self
            .read_json("/v1/status/peers", &[], &QueryOptions::default())
            .await?
            .0)
    }
}
