//! Docker checks, as Consul's `CheckDocker`: `Args` run inside a running
//! container through the Docker Engine API's exec endpoints, on the unix
//! socket of `DOCKER_HOST` (default `/var/run/docker.sock`).

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

use super::script::Tail;
use crate::types::{CheckSpec, Status};

/// Largest JSON answer read from the Docker API.
const API_BODY_MAX: usize = 1 << 20;

/// The Docker socket, or why there is none (names the variable to set).
pub(crate) fn docker_socket() -> Result<PathBuf, String> {
    let host = std::env::var("DOCKER_HOST").unwrap_or_default();
    let path = if host.is_empty() {
        PathBuf::from("/var/run/docker.sock")
    } else if let Some(p) = host.strip_prefix("unix://") {
        PathBuf::from(p)
    } else {
        return Err(format!(
            "Docker checks: DOCKER_HOST={host:?} is not a unix socket; devagent reaches Docker \
             over unix:///var/run/docker.sock (or another unix:// path)"
        ));
    };
    match std::fs::metadata(&path) {
        Ok(_) => Ok(path),
        Err(e) => Err(format!(
            "Docker checks need the Docker Engine socket {}: {e}; start Docker or set \
             DOCKER_HOST=unix:///path/to/docker.sock",
            path.display()
        )),
    }
}

/// One request to the Docker API; the status and the body (at most `max` bytes kept).
async fn call(
    sock: &PathBuf,
    method: http::Method,
    path: &str,
    body: Option<Value>,
    tail: Option<&mut Tail>,
) -> Result<(http::StatusCode, Bytes), String> {
    let stream = tokio::net::UnixStream::connect(sock)
        .await
        .map_err(|e| format!("connecting to {}: {e}", sock.display()))?;
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("Docker API handshake: {e}"))?;
    let driver = tokio::spawn(conn);
    let data = body.map(|b| b.to_string()).unwrap_or_default();
    let req = http::Request::builder()
        .method(method)
        .uri(format!("http://docker{path}"))
        .header("host", "docker")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(data)))
        .map_err(|e| format!("Docker API request: {e}"))?;
    let resp = send
        .send_request(req)
        .await
        .map_err(|e| format!("Docker API {path}: {e}"));
    let result = async {
        let resp = resp?;
        let status = resp.status();
        let mut body = resp.into_body();
        let mut kept = Vec::new();
        let mut stream = Demux::default();
        let mut tail = tail;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("Docker API {path}: {e}"))?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            match tail.as_deref_mut() {
                Some(t) if status.is_success() => stream.feed(&chunk, t),
                _ => {
                    if kept.len() + chunk.len() > API_BODY_MAX {
                        return Err(format!("Docker API {path}: answer larger than 1 MiB"));
                    }
                    kept.extend_from_slice(&chunk);
                }
            }
        }
        Ok((status, Bytes::from(kept)))
    }
    .await;
    driver.abort();
    result
}

/// Docker's multiplexed stdout/stderr stream: 8-byte headers, then payloads.
#[derive(Default)]
struct Demux {
    header: Vec<u8>,
    left: usize,
}

impl Demux {
    fn feed(&mut self, mut data: &[u8], into: &mut Tail) {
        while !data.is_empty() {
            if self.left == 0 {
                let need = 8 - self.header.len();
                let take = need.min(data.len());
                self.header.extend_from_slice(&data[..take]);
                data = &data[take..];
                if self.header.len() == 8 {
                    let h = &self.header;
                    self.left = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
                    self.header.clear();
                }
                continue;
            }
            let take = self.left.min(data.len());
            into.write(&data[..take]);
            self.left -= take;
            data = &data[take..];
        }
    }
}

fn api_error(what: &str, status: http::StatusCode, body: &[u8]) -> String {
    let msg = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    format!("{what}: Docker answered {status}: {msg}")
}

/// Runs the check's `Args` in its container once.
pub(super) async fn run(spec: &CheckSpec, timeout: Duration) -> (Status, String) {
    let m = &spec.more;
    let work = async {
        let sock = docker_socket()?;
        let create = json!({
            "AttachStdout": true, "AttachStderr": true, "Tty": false, "Cmd": m.script_args,
        });
        let path = format!("/containers/{}/exec", m.docker_container_id);
        let (status, body) = call(&sock, http::Method::POST, &path, Some(create), None).await?;
        if !status.is_success() {
            return Err(api_error("creating the exec", status, &body));
        }
        let id = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("Id").and_then(Value::as_str).map(str::to_string))
            .ok_or_else(|| "creating the exec: no Id in Docker's answer".to_string())?;
        let mut tail = Tail::new(spec.output_max_size.max(1));
        let start = json!({"Detach": false, "Tty": false});
        let path = format!("/exec/{id}/start");
        let (status, body) = call(
            &sock,
            http::Method::POST,
            &path,
            Some(start),
            Some(&mut tail),
        )
        .await?;
        if !status.is_success() {
            return Err(api_error("starting the exec", status, &body));
        }
        let path = format!("/exec/{id}/json");
        let (status, body) = call(&sock, http::Method::GET, &path, None, None).await?;
        if !status.is_success() {
            return Err(api_error("inspecting the exec", status, &body));
        }
        let code = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("ExitCode").and_then(Value::as_i64))
            .ok_or_else(|| "inspecting the exec: no ExitCode".to_string())?;
        Ok((code, tail.render()))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok((0, out))) => (Status::Passing, out),
        Ok(Ok((1, out))) => (Status::Warning, out),
        Ok(Ok((_, out))) => (Status::Critical, out),
        Ok(Err(e)) => (Status::Critical, e),
        Err(_) => (
            Status::Critical,
            format!(
                "Timed out ({}) running check",
                gocompat::duration::format(timeout)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demux_splits_frames_across_chunks() {
        let mut t = Tail::new(100);
        let mut d = Demux::default();
        let mut stream = vec![1, 0, 0, 0, 0, 0, 0, 3];
        stream.extend_from_slice(b"abc");
        stream.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 2]);
        stream.extend_from_slice(b"de");
        for chunk in stream.chunks(3) {
            d.feed(chunk, &mut t);
        }
        assert_eq!(t.render(), "abcde");
    }
}
