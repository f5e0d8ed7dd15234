//! `/v1/agent/metrics` (go-metrics JSON, or Prometheus text with
//! `?format=prometheus`), `/v1/agent/monitor` (the log stream) and
//! `/v1/agent/host` (host facts read from `/proc`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::Router;
use futures_util::StreamExt as _;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::{endpoint, json, with_body, App, Caller, Params};
use crate::acl::{Global, Kind, Level, Resource};
use crate::error::ApiError;
use crate::logs::LogLevel;
use crate::types::Status;

const GET: &[Method] = &[Method::GET];

/// Monitors open at once; more get a 429.
const MAX_MONITORS: usize = 64;

pub(super) fn routes() -> Router<App> {
    Router::new()
        .route("/v1/agent/metrics", endpoint(GET, metrics))
        .route("/v1/agent/metrics/stream", endpoint(GET, metrics_stream))
        .route("/v1/agent/monitor", endpoint(GET, monitor))
        .route("/v1/agent/host", endpoint(GET, host))
}

/// One gauge: its Consul name, labels and value.
struct Gauge {
    name: &'static str,
    labels: Vec<(&'static str, String)>,
    value: f64,
}

fn gauges(app: &App) -> Vec<Gauge> {
    let g = |name, value: usize| Gauge {
        name,
        labels: Vec::new(),
        value: value as f64,
    };
    let inner = app.store.lock();
    let count = |s: Status| inner.checks.values().filter(|c| c.status == s).count();
    let mut out = vec![
        g("consul.state.nodes", inner.nodes.len()),
        g("consul.state.services", inner.by_name.len()),
        g("consul.state.service_instances", inner.services.len()),
        g("consul.state.kv_store", inner.kv.len()),
        g("consul.state.sessions", inner.sessions.len()),
        g("consul.raft.applied_index", inner.index as usize),
        g("consul.raft.last_index", inner.index as usize),
        g("consul.server.isLeader", 1),
        g("consul.autopilot.healthy", 1),
        g("consul.autopilot.failure_tolerance", 0),
        g("consul.runtime.num_goroutines", 0),
    ];
    for (status, n) in [
        ("passing", count(Status::Passing)),
        ("warning", count(Status::Warning)),
        ("critical", count(Status::Critical)),
    ] {
        out.push(Gauge {
            name: "consul.catalog.checks",
            labels: vec![("status", status.to_string())],
            value: n as f64,
        });
    }
    drop(inner);
    out.push(g(
        "consul.agent.http.blocking_queries",
        usize::try_from(app.store.waiting.load(std::sync::atomic::Ordering::Relaxed)).unwrap_or(0),
    ));
    out.push(g(
        "consul.runtime.alloc_bytes",
        resident_bytes().unwrap_or(0) as usize,
    ));
    out
}

/// Resident memory of the process, from `/proc/self/statm`.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn http_requests(app: &App) -> f64 {
    app.metrics.http_requests.get() as f64
}

/// go-metrics' `DisplayMetrics` JSON.
fn metrics_json(app: &App) -> Value {
    let labels = |l: &[(&str, String)]| -> Value {
        l.iter()
            .map(|(k, v)| ((*k).to_string(), Value::String(v.clone())))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let gauges: Vec<Value> = gauges(app)
        .iter()
        .map(|g| json!({"Name": g.name, "Value": g.value, "Labels": labels(&g.labels)}))
        .collect();
    let n = http_requests(app);
    let now = chrono::DateTime::<chrono::Utc>::from(SystemTime::now());
    json!({
        "Timestamp": now.format("%Y-%m-%d %H:%M:%S %z UTC").to_string(),
        "Gauges": gauges,
        "Points": [],
        "Counters": [{
            "Name": "consul.client.api.requests",
            "Count": n, "Rate": n / 10.0, "Sum": n, "Min": 1, "Max": 1, "Mean": 1, "Stddev": 0,
            "Labels": {}
        }],
        "Samples": []
    })
}

/// Prometheus text (`consul_state_nodes 1`).
fn metrics_prometheus(app: &App) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut last = "";
    for g in gauges(app) {
        let name = g.name.replace('.', "_");
        if g.name != last {
            let _ = writeln!(out, "# HELP {name} {name}\n# TYPE {name} gauge");
            last = g.name;
        }
        let labels: Vec<String> = g
            .labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect();
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {}", g.value);
        } else {
            let _ = writeln!(out, "{name}{{{}}} {}", labels.join(","), g.value);
        }
    }
    let _ = writeln!(
        out,
        "# HELP consul_client_api_requests consul_client_api_requests\n# TYPE consul_client_api_requests counter\nconsul_client_api_requests {}",
        http_requests(app)
    );
    out
}

async fn metrics(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    caller
        .authz
        .need(Kind::Agent, Level::Read, &app.info.node_name)?;
    let p = Params::parse(q.as_deref());
    match p.get("format") {
        Some("prometheus") => Ok(with_body(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics_prometheus(&app).into(),
        )),
        None | Some("") => json(&metrics_json(&app)),
        Some(other) => Err(ApiError::bad_request(format!(
            "Unsupported metrics format {other:?}: leave it out for JSON or use format=prometheus"
        ))),
    }
}

/// `/v1/agent/metrics/stream`: the JSON of the metrics every 10 seconds.
async fn metrics_stream(State(app): State<App>, caller: Caller) -> Result<Response, ApiError> {
    caller
        .authz
        .need(Kind::Agent, Level::Read, &app.info.node_name)?;
    let app2 = app.clone();
    let stream = futures_util::stream::unfold(true, move |first| {
        let app = app2.clone();
        async move {
            if !first {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(10)) => {}
                    _ = app.store.closed() => return None,
                }
            }
            let mut line = metrics_json(&app).to_string();
            line.push('\n');
            Some((Ok::<_, std::io::Error>(line), false))
        }
    });
    Ok(streaming("application/json", Body::from_stream(stream)))
}

fn streaming(content_type: &'static str, body: Body) -> Response {
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static(content_type),
    );
    resp
}

/// `/v1/agent/monitor?loglevel=&logjson`: log lines as they are logged.
async fn monitor(
    State(app): State<App>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    caller
        .authz
        .need(Kind::Agent, Level::Read, &app.info.node_name)?;
    let p = Params::parse(q.as_deref());
    let level = match p.get("loglevel") {
        None | Some("") => LogLevel::Info,
        Some(l) => LogLevel::parse(l)
            .ok_or_else(|| ApiError::bad_request(format!("Unknown log level: {l}")))?,
    };
    let as_json = p.flag("logjson").unwrap_or(false);
    let hub = &app.extra.logs;
    let rx = hub.subscribe();
    if hub.receivers() > MAX_MONITORS {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!("{MAX_MONITORS} monitors are open already: close one and retry"),
        ));
    }
    hub.publish(
        LogLevel::Debug,
        "agent",
        format!("monitor started: level={}", level.as_str()),
    );
    let stream = futures_util::stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(line) if line.level >= level => {
                    let text = if as_json { line.json() } else { line.text() };
                    return Some((Ok::<_, std::io::Error>(text), rx));
                }
                Ok(_) => continue,
                Err(RecvError::Lagged(n)) => {
                    let text =
                        format!("[WARN] agent: monitor fell behind: {n} log lines dropped\n");
                    return Some((Ok(text), rx));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    });
    // A monitor ends when the agent stops.
    let store = std::sync::Arc::clone(&app.store);
    let stream = stream.take_until(async move { store.closed().await });
    Ok(streaming("text/plain", Body::from_stream(stream)))
}

/// `/v1/agent/host`: gopsutil-shaped facts about the machine.
async fn host(State(app): State<App>, caller: Caller) -> Result<Response, ApiError> {
    caller
        .authz
        .require(Resource::Global(Global::Operator), Level::Read, "")?;
    let data_dir = app.info.data_dir.clone();
    let v = tokio::task::spawn_blocking(move || host_facts(&data_dir))
        .await
        .map_err(|e| ApiError::internal(format!("reading host facts: {e}")))?;
    json(&v)
}

fn read(path: &str, errors: &mut serde_json::Map<String, Value>, key: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| {
        errors.insert(key.to_string(), Value::String(format!("{path}: {e}")));
        String::new()
    })
}

// statvfs's counts are u64 on Linux x86_64 but narrower elsewhere.
#[allow(clippy::unnecessary_cast)]
fn host_facts(data_dir: &str) -> Value {
    let mut errors = serde_json::Map::new();
    let meminfo = read("/proc/meminfo", &mut errors, "memory");
    let kb = |key: &str| -> u64 {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    let (total, free, available) = (kb("MemTotal"), kb("MemFree"), kb("MemAvailable"));
    let (buffers, cached) = (kb("Buffers"), kb("Cached"));
    let used = total.saturating_sub(free + buffers + cached);
    let cpuinfo = read("/proc/cpuinfo", &mut errors, "cpu");
    let cpus: Vec<Value> = cpuinfo
        .split("\n\n")
        .filter(|b| b.contains("processor"))
        .map(|block| {
            let field = |k: &str| {
                block
                    .lines()
                    .find_map(|l| {
                        let (name, v) = l.split_once(':')?;
                        (name.trim() == k).then(|| v.trim().to_string())
                    })
                    .unwrap_or_default()
            };
            json!({
                "cpu": field("processor").parse::<u64>().unwrap_or(0),
                "vendorId": field("vendor_id"),
                "family": field("cpu family"),
                "model": field("model"),
                "stepping": field("stepping").parse::<u64>().unwrap_or(0),
                "physicalId": field("physical id"),
                "coreId": field("core id"),
                "cores": 1,
                "modelName": field("model name"),
                "mhz": field("cpu MHz").parse::<f64>().unwrap_or(0.0),
                "cacheSize": field("cache size").split_whitespace().next().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0),
                "flags": field("flags").split_whitespace().collect::<Vec<_>>(),
                "microcode": field("microcode"),
            })
        })
        .collect();
    let uptime: u64 = read("/proc/uptime", &mut errors, "host")
        .split_whitespace()
        .next()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.0) as u64;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let procs = std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .bytes()
                        .all(|b| b.is_ascii_digit())
                })
                .count()
        })
        .unwrap_or(0);
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let os_field = |k: &str| {
        os_release
            .lines()
            .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let disk_path = if data_dir.is_empty() { "/" } else { data_dir };
    let disk = match nix::sys::statvfs::statvfs(disk_path) {
        Ok(s) => {
            let bsize = s.fragment_size() as u64;
            let total = s.blocks() as u64 * bsize;
            let free = s.blocks_available() as u64 * bsize;
            let used = total.saturating_sub(s.blocks_free() as u64 * bsize);
            json!({
                "path": disk_path, "fstype": "", "total": total, "free": free, "used": used,
                "usedPercent": if total == 0 { 0.0 } else { used as f64 * 100.0 / total as f64 },
                "inodesTotal": s.files(), "inodesUsed": s.files().saturating_sub(s.files_free()),
                "inodesFree": s.files_free(),
                "inodesUsedPercent": if s.files() == 0 { 0.0 } else { s.files().saturating_sub(s.files_free()) as f64 * 100.0 / s.files() as f64 },
            })
        }
        Err(e) => {
            errors.insert("disk".into(), Value::String(format!("{disk_path}: {e}")));
            json!({})
        }
    };
    json!({
        "Memory": {
            "total": total, "available": available, "used": used,
            "usedPercent": if total == 0 { 0.0 } else { used as f64 * 100.0 / total as f64 },
            "free": free, "buffers": buffers, "cached": cached,
        },
        "CPU": cpus,
        "Host": {
            "hostname": crate::config::hostname(),
            "uptime": uptime,
            "bootTime": now.as_secs().saturating_sub(uptime),
            "procs": procs,
            "os": std::env::consts::OS,
            "platform": os_field("ID"),
            "platformFamily": os_field("ID_LIKE"),
            "platformVersion": os_field("VERSION_ID"),
            "kernelVersion": kernel,
            "kernelArch": std::env::consts::ARCH,
            "virtualizationSystem": "",
            "virtualizationRole": "",
            "hostid": std::fs::read_to_string("/etc/machine-id").map(|s| s.trim().to_string()).unwrap_or_default(),
        },
        "Disk": disk,
        "CollectionTime": now.as_nanos() as u64,
        "Errors": errors,
    })
}
