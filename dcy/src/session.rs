//! `/v1/session/*`: create, renew, destroy and read sessions.

use std::time::Duration;

use http::{Method, StatusCode};
use serde::Serialize;

use crate::client::{segment, Client, QueryMeta, QueryOptions};
use crate::error::{Error, Result};
use crate::types::SessionEntry;

/// What happens to a session's locks when it is invalidated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum Behavior {
    /// The locks are released (the keys stay).
    #[default]
    #[serde(rename = "release")]
    Release,
    /// The locked keys are deleted.
    #[serde(rename = "delete")]
    Delete,
}

/// A session to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRequest {
    /// Name, for operators.
    pub name: String,
    /// TTL (10s–24h); the session dies after 2×TTL without a renewal.
    pub ttl: Option<Duration>,
    /// Release or delete on invalidation.
    pub behavior: Behavior,
    /// How long an invalidated lock stays unavailable.
    pub lock_delay: Duration,
    /// Node checks the session depends on (`None`: Consul's default `serfHealth`).
    pub node_checks: Option<Vec<String>>,
}

impl Default for SessionRequest {
    fn default() -> Self {
        SessionRequest {
            name: String::new(),
            ttl: None,
            behavior: Behavior::Release,
            lock_delay: Duration::from_secs(15),
            node_checks: None,
        }
    }
}

#[derive(Serialize)]
struct CreateBody<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
    #[serde(rename = "TTL", skip_serializing_if = "Option::is_none")]
    ttl: Option<String>,
    #[serde(rename = "Behavior")]
    behavior: Behavior,
    #[serde(rename = "LockDelay")]
    lock_delay: String,
    #[serde(rename = "NodeChecks", skip_serializing_if = "Option::is_none")]
    node_checks: Option<&'a [String]>,
}

#[derive(serde::Deserialize)]
struct Created {
    #[serde(rename = "ID")]
    id: String,
}

impl Client {
    /// `PUT /v1/session/create`; returns the session ID.
    pub async fn session_create(&self, req: &SessionRequest) -> Result<String> {
        let body = CreateBody {
            name: &req.name,
            ttl: req.ttl.map(gocompat::duration::format),
            behavior: req.behavior,
            lock_delay: format!("{}ms", req.lock_delay.as_millis()),
            node_checks: req.node_checks.as_deref(),
        };
        let bytes = self.put_json("/v1/session/create", &[], &body).await?;
        let c: Created = serde_json::from_slice(&bytes)
            .map_err(|e| Error::decode("PUT /v1/session/create", e))?;
        Ok(c.id)
    }

    /// `PUT /v1/session/renew/:id`; `None` when the session no longer exists.
    pub async fn session_renew(&self, id: &str) -> Result<Option<SessionEntry>> {
        let path = format!("/v1/session/renew/{}", segment(id));
        let raw = self
            .send(
                Method::PUT,
                &path,
                &[],
                None,
                None,
                self.config().request_timeout,
            )
            .await?;
        if raw.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !raw.status.is_success() {
            return Err(Error::status(
                "PUT",
                &path,
                raw.status.as_u16(),
                &String::from_utf8_lossy(&raw.body),
            ));
        }
        let list: Vec<SessionEntry> = serde_json::from_slice(&raw.body)
            .map_err(|e| Error::decode(&format!("PUT {path}"), e))?;
        Ok(list.into_iter().next())
    }

    /// `PUT /v1/session/destroy/:id`.
    pub async fn session_destroy(&self, id: &str) -> Result<()> {
        self.write(
            Method::PUT,
            &format!("/v1/session/destroy/{}", segment(id)),
            &[],
            None,
        )
        .await?;
        Ok(())
    }

    /// `GET /v1/session/info/:id`.
    pub async fn session_info(
        &self,
        id: &str,
        q: &QueryOptions,
    ) -> Result<(Option<SessionEntry>, QueryMeta)> {
        let (list, meta): (Vec<SessionEntry>, _) = self
            .read_json(&format!("/v1/session/info/{}", segment(id)), &[], q)
            .await?;
        Ok((list.into_iter().next(), meta))
    }

    /// `GET /v1/session/list`.
    pub async fn session_list(&self, q: &QueryOptions) -> Result<(Vec<SessionEntry>, QueryMeta)> {
        self.read_json("/v1/session/list", &[], q).await
    }
}
