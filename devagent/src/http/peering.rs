//! Cluster peering and the services it exports and imports, read-only:
//! `GET /v1/peerings`, `/v1/exported-services`, `/v1/imported-services`.
//!
//! A single dev agent has no peers and no config entries (no
//! `exported-services` entry, no `service-intentions` with a peer source),
//! so each list is empty. They answer as Consul CE does for such a cluster:
//! `[]` with an index of 1 and blocking queries on it (a query at index 1
//! waits out its `wait`). `/v1/partitions` stays unknown (404), as in Consul
//! CE: admin partitions are an Enterprise feature.

use axum::extract::{RawQuery, State};
use axum::http::Method;
use axum::response::Response;
use axum::Router;

use super::{endpoint, json_meta, App, Caller, Params};
use crate::acl::{Global, Level, Resource};
use crate::error::ApiError;
use crate::state::{Subscription, Topic};

const GET: &[Method] = &[Method::GET];

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/peerings", endpoint(GET, peerings))
        .route("/v1/exported-services", endpoint(GET, exported))
        .route("/v1/imported-services", endpoint(GET, imported))
}

/// An empty list behind the ACL `resource:read`, as a blocking read.
async fn empty(
    app: &App,
    caller: &Caller,
    q: Option<&str>,
    resource: Global,
) -> Result<Response, ApiError> {
    let p = Params::parse(q);
    let opts = app.read_opts(&p, None)?;
    caller
        .authz
        .require(Resource::Global(resource), Level::Read, "")?;
    // Nothing here ever changes: the query wakes on catalog changes, finds
    // index 1 again, and waits until its deadline.
    let (index, list) = app
        .store
        .blocking(opts.blocking, Subscription::Topic(Topic::Catalog), |_| {
            (1, Vec::<serde_json::Value>::new())
        })
        .await;
    json_meta(&list, index, Some(opts.consistency))
}

async fn peerings(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    empty(&app, &caller, q.as_deref(), Global::Peering).await
}

async fn exported(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    empty(&app, &caller, q.as_deref(), Global::Mesh).await
}

async fn imported(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    empty(&app, &caller, q.as_deref(), Global::Mesh).await
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::Agent;

    #[tokio::test]
    async fn empty_lists_that_block_and_partitions_unknown() {
        let agent = Agent::builder()
            .http_port(0)
            .dns_port(0)
            .start()
            .await
            .unwrap();
        let base = agent.http_url();
        let http = reqwest::Client::new();
        for path in ["peerings", "exported-services", "imported-services"] {
            let r = http.get(format!("{base}/v1/{path}")).send().await.unwrap();
            assert_eq!(r.status(), 200, "{path}");
            assert_eq!(r.headers()["X-Consul-Index"], "1", "{path}");
            assert_eq!(r.text().await.unwrap(), "[]\n", "{path}");
            let t = Instant::now();
            let r = http
                .get(format!("{base}/v1/{path}?index=1&wait=200ms"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert!(t.elapsed() >= Duration::from_millis(190), "{path} blocks");
        }
        let r = http
            .get(format!("{base}/v1/partitions"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(
            r.text().await.unwrap(),
            "Invalid URL path: not a recognized HTTP API endpoint"
        );
        agent.shutdown().await;
    }
}
