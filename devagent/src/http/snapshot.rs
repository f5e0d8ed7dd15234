//! `/v1/snapshot`: `GET` saves everything the agent holds (catalog, KV,
//! sessions, ACLs, prepared queries, config entries, coordinates, the
//! autopilot configuration) with its indexes; `PUT` restores such an
//! archive. The archive is a header line with a SHA-256 of the JSON body
//! that follows; a restore checks it, decodes everything, and only then
//! replaces the state. Both need a management token (`acl:write`).

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{endpoint, read_body, set_meta, with_body, App, Caller, Params};
use crate::acl::{AclSnapshot, Global, Level, Resource};
use crate::error::ApiError;
use crate::state::StoreSnapshot;

const GET_PUT: &[Method] = &[Method::GET, Method::PUT];
/// Largest archive a restore reads.
pub(crate) const MAX_SNAPSHOT: usize = 64 << 20;
const MAGIC: &str = "devagent-snapshot v1 sha256=";

pub(super) fn routes() -> Router<App> {
    Router::new().route("/v1/snapshot", endpoint(GET_PUT, snapshot))
}

#[derive(Serialize, Deserialize)]
struct Archive {
    datacenter: String,
    store: StoreSnapshot,
    acl: AclSnapshot,
    config_entries: Vec<Value>,
    queries: Vec<Value>,
    coordinates: Vec<(String, String, Value)>,
    autopilot: serde_json::Map<String, Value>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn snapshot(
    State(app): State<App>,
    caller: Caller,
    method: Method,
    RawQuery(q): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    caller
        .authz
        .require(Resource::Global(Global::Acl), Level::Write, "")?;
    app.check_dc(&Params::parse(q.as_deref()))?;
    if method == Method::PUT {
        let bytes = read_body(body, MAX_SNAPSHOT).await?;
        restore(&app, &bytes)?;
        return Ok(StatusCode::OK.into_response());
    }
    let (entries, queries, coordinates, autopilot) = {
        let t = app.extra.lock();
        (
            t.entries.map.values().map(|v| (**v).clone()).collect(),
            t.queries.map.values().map(|q| (*q.def).clone()).collect(),
            t.coords
                .map
                .iter()
                .map(|((n, s), c)| (n.clone(), s.clone(), c.clone()))
                .collect(),
            t.autopilot.clone(),
        )
    };
    let archive = Archive {
        datacenter: app.info.datacenter.clone(),
        store: app.store.snapshot(),
        acl: app.acl.snapshot(),
        config_entries: entries,
        queries,
        coordinates,
        autopilot,
    };
    let json = serde_json::to_vec(&archive)
        .map_err(|e| ApiError::internal(format!("encoding the snapshot: {e}")))?;
    let mut out = format!("{MAGIC}{}\n", hex(&Sha256::digest(&json))).into_bytes();
    out.extend_from_slice(&json);
    let mut resp = with_body(StatusCode::OK, "application/octet-stream", out.into());
    set_meta(resp.headers_mut(), app.store.last_index(), None);
    Ok(resp)
}

fn corrupt(why: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("Error restoring snapshot: {why}"))
}

fn restore(app: &App, bytes: &[u8]) -> Result<(), ApiError> {
    let nl = bytes
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| corrupt("not a devagent snapshot (no header line)"))?;
    let header = std::str::from_utf8(&bytes[..nl]).map_err(corrupt)?;
    let want = header
        .strip_prefix(MAGIC)
        .ok_or_else(|| corrupt("not a devagent snapshot: save one with GET /v1/snapshot"))?;
    let json = &bytes[nl + 1..];
    if hex(&Sha256::digest(json)) != want {
        return Err(corrupt("checksum mismatch: the archive is damaged"));
    }
    let archive: Archive = serde_json::from_slice(json).map_err(corrupt)?;
    if archive.datacenter != app.info.datacenter {
        return Err(corrupt(format!(
            "the snapshot is of datacenter {:?}, this agent is in {:?}",
            archive.datacenter, app.info.datacenter
        )));
    }
    // Decode and check everything before anything is replaced.
    AclSnapshot::check(&archive.acl).map_err(corrupt)?;
    let mut entries = Vec::new();
    for e in archive.config_entries {
        let (kind, name, mut map) = crate::extra::entries::canon(e.clone()).map_err(corrupt)?;
        for k in ["CreateIndex", "ModifyIndex"] {
            if let Some(v) = e.get(k) {
                map.insert(k.into(), v.clone());
            }
        }
        entries.push((kind, name, map));
    }
    let mut queries = Vec::new();
    for q in archive.queries {
        let (mut map, regexp) = crate::extra::queries::canon(&q).map_err(corrupt)?;
        for k in ["ID", "CreateIndex", "ModifyIndex"] {
            if let Some(v) = q.get(k) {
                map.insert(k.into(), v.clone());
            }
        }
        queries.push((map, regexp));
    }
    for (_, _, c) in &archive.coordinates {
        crate::extra::coords::valid(c).map_err(corrupt)?;
    }
    app.store.restore(archive.store).map_err(corrupt)?;
    app.acl.restore(archive.acl).map_err(corrupt)?;
    app.extra
        .restore(entries, queries, archive.coordinates, archive.autopilot);
    Ok(())
}
