//! templater rendering nginx's upstream list from the demo's healthy
//! workers, and nginx itself when it is installed (else the rendered file is
//! the output).
//!
//! nginx starts first, on a placeholder upstream list, and templater only
//! once nginx has written its PID file: templater's first render is followed
//! by `nginx -s reload`, which needs a running nginx. What nginx and the
//! reload commands print goes to the demo's log.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use clap::Parser;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::log::Log;

const UPSTREAMS: &str = "upstream workers {
{% for s in service(name=\"worker\", tag=\"dcy-demo\") %}  server {{ s.Address }}:{{ s.Port }}; # {{ s.ID }}
{% else %}  server 127.0.0.1:9 down; # no healthy worker
{% endfor %}}
";

/// The upstream list before templater's first render.
const PLACEHOLDER: &str = "upstream workers {\n  server 127.0.0.1:9 down; # not rendered yet\n}\n";

/// Why nginx is not running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NoNginx {
    NotInstalled,
    NotWanted,
}

/// templater, and nginx when present.
pub(crate) struct Proxy {
    upstreams: PathBuf,
    nginx: Result<(Child, u16), NoNginx>,
    templater_stop: CancellationToken,
    templater: tokio::task::JoinHandle<templater::Result<i32>>,
    events: mpsc::UnboundedSender<templater::Event>,
}

fn find_nginx() -> Option<PathBuf> {
    [
        "/usr/sbin/nginx",
        "/usr/bin/nginx",
        "/usr/local/sbin/nginx",
        "/usr/local/bin/nginx",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

fn free_port(wanted: u16) -> u16 {
    match std::net::TcpListener::bind(("127.0.0.1", wanted)) {
        Ok(l) if wanted == 0 => l.local_addr().map_or(wanted, |a| a.port()),
        Ok(_) => wanted,
        Err(_) => std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_or(wanted, |a| a.port()),
    }
}

/// How many times nginx is started when its port was taken before it bound
/// it (the port is free when chosen; another process may take it first).
const NGINX_START_ATTEMPTS: usize = 3;

/// Starts nginx on `wanted` (or a free port when it is taken) and waits
/// (bounded) for its PID file; when nginx exits because its port was taken
/// meanwhile, it starts again on another free port.
async fn start_nginx(
    ngx: &Path,
    dir: &Path,
    conf: &Path,
    wanted: u16,
    log: &Log,
) -> anyhow::Result<(Child, u16)> {
    let mut port = free_port(wanted);
    let mut attempt = 1;
    loop {
        std::fs::write(conf, nginx_conf(dir, port))?;
        let pid_file = dir.join("nginx.pid");
        let _ = std::fs::remove_file(&pid_file);
        let log_from = log.len();
        let mut child = Command::new(ngx)
            .args([
                "-p",
                &dir.display().to_string(),
                "-c",
                &conf.display().to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(log.stdio()?)
            .stderr(log.stdio()?)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("starting {}: {e}", ngx.display()))?;
        let mut exited = None;
        for _ in 0..250 {
            if std::fs::metadata(&pid_file).is_ok_and(|m| m.len() > 0) {
                return Ok((child, port));
            }
            if let Ok(Some(status)) = child.try_wait() {
                exited = Some(status);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let Some(status) = exited else {
            anyhow::bail!(
                "nginx wrote no PID file within 5s; its errors are in {}",
                log.path().display()
            );
        };
        let taken = log.lines_since(log_from, "Address already in use");
        if !taken.is_empty() && attempt < NGINX_START_ATTEMPTS {
            tracing::warn!(
                port,
                attempt,
                "nginx's port was taken before it bound it: starting it again on another port"
            );
            port = free_port(0);
            attempt += 1;
            continue;
        }
        let said = log.lines_since(log_from, "[emerg]");
        anyhow::bail!(
            "nginx exited at start ({status}){}; its errors are in {}",
            if said.is_empty() {
                String::new()
            } else {
                format!(": {}", said.join(" | "))
            },
            log.path().display()
        );
    }
}

fn nginx_conf(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1;\ndaemon off;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log warn;\n\
         events {{ worker_connections 256; }}\nhttp {{\n  access_log off;\n  client_body_temp_path {d}/tmp/body;\n  \
         proxy_temp_path {d}/tmp/proxy;\n  fastcgi_temp_path {d}/tmp/fastcgi;\n  uwsgi_temp_path {d}/tmp/uwsgi;\n  \
         scgi_temp_path {d}/tmp/scgi;\n  include {d}/upstreams.conf;\n  server {{\n    listen 127.0.0.1:{port};\n    \
         location / {{ proxy_pass http://workers; proxy_next_upstream error timeout; }}\n  }}\n}}\n"
    )
}

/// A shell-quoted path for templater's command lines (run with `sh -c`).
fn quoted(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}

impl Proxy {
    /// Starts nginx (when installed and wanted) and templater.
    pub(crate) async fn start(
        consul: &str,
        dir: &Path,
        port: u16,
        want_nginx: bool,
        log: &Log,
    ) -> anyhow::Result<Proxy> {
        std::fs::create_dir_all(dir.join("tmp"))?;
        let upstreams = dir.join("upstreams.conf");
        std::fs::write(dir.join("upstreams.tmpl"), UPSTREAMS)?;
        std::fs::write(&upstreams, PLACEHOLDER)?;
        let nginx = match (want_nginx, find_nginx()) {
            (false, _) => Err(NoNginx::NotWanted),
            (true, None) => Err(NoNginx::NotInstalled),
            (true, Some(ngx)) => Ok(ngx),
        };
        let mut template = format!(
            "template {{\n  source = \"{}\"\n  destination = \"{}\"\n  wait = \"100ms:1s\"\n",
            dir.join("upstreams.tmpl").display(),
            upstreams.display()
        );
        let nginx = match nginx {
            Ok(ngx) => {
                let conf = dir.join("nginx.conf");
                let base = format!("{} -p {} -c {}", quoted(&ngx), quoted(dir), quoted(&conf));
                let to_log = format!(">>{} 2>&1", quoted(log.path()));
                // The check runs before the new upstreams replace the live
                // ones: nginx checks a copy of its config that includes the
                // new file ({{path}}).
                let check = format!(
                    "sed 's#include {d}/upstreams.conf;#include {{{{path}}}};#' {conf} > {copy} && {ngx} -p {dq} -c {copy} -t -q {to_log}",
                    d = dir.display(),
                    conf = quoted(&conf),
                    copy = quoted(&dir.join("nginx-check.conf")),
                    ngx = quoted(&ngx),
                    dq = quoted(dir),
                );
                template.push_str(&format!(
                    "  check_command = \"{check}\"\n  command = \"{base} -s reload {to_log}\"\n"
                ));
                Ok(start_nginx(&ngx, dir, &conf, port, log).await?)
            }
            Err(why) => Err(why),
        };
        template.push_str("}\n");
        let cfg = dir.join("templater.hcl");
        std::fs::write(&cfg, template)?;
        let cli = templater::Cli::try_parse_from([
            "templater",
            "--consul-addr",
            consul,
            "--config",
            &cfg.display().to_string(),
            "--log-level",
            "warn",
        ])?;
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let (t, s) = (tx.clone(), stop.clone());
        let task = tokio::spawn(async move { templater::run(&cli.run, t, rx, s).await });
        // The first render (bounded: templater may be waiting for Consul).
        for _ in 0..300 {
            if std::fs::read_to_string(&upstreams).is_ok_and(|t| t != PLACEHOLDER) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(Proxy {
            upstreams,
            nginx,
            templater_stop: stop,
            templater: task,
            events: tx,
        })
    }

    pub(crate) fn describe(&self) -> String {
        match &self.nginx {
            Ok((_, port)) => format!(
                "nginx       http://127.0.0.1:{port}/square?n=7   (upstreams rendered by templater: {})",
                self.upstreams.display()
            ),
            Err(why) => format!(
                "upstreams   {} (rendered by templater; {})",
                self.upstreams.display(),
                match why {
                    NoNginx::NotInstalled => "nginx is not installed: apt-get install nginx-light",
                    NoNginx::NotWanted => "nginx not started: --no-nginx",
                }
            ),
        }
    }

    pub(crate) fn status(&self) -> String {
        let n = std::fs::read_to_string(&self.upstreams)
            .map(|t| {
                t.lines()
                    .filter(|l| l.trim_start().starts_with("server ") && !l.contains(" down;"))
                    .count()
            })
            .unwrap_or(0);
        format!(
            "{} upstreams: {n}",
            if self.nginx.is_ok() {
                "nginx"
            } else {
                "rendered"
            }
        )
    }

    /// Stops nginx (SIGTERM: its fast shutdown; SIGKILL after `limit`) and templater.
    pub(crate) async fn stop(&mut self, limit: Duration) {
        if let Ok((child, _)) = self.nginx.as_mut() {
            if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            if tokio::time::timeout(limit, child.wait()).await.is_err() {
                let _ = child.kill().await;
            }
        }
        let _ = self.events.send(templater::Event::Stop(0));
        self.templater_stop.cancel();
        let _ = tokio::time::timeout(limit, &mut self.templater).await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// An `nginx` that fails its first start as nginx does when its port
    /// was taken, then runs the real one.
    fn flaky_nginx(dir: &Path, real: &Path) -> PathBuf {
        let script = dir.join("nginx-wrapper");
        let marker = dir.join("failed-once");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nif [ ! -e '{m}' ]; then touch '{m}'\n\
                 echo 'nginx: [emerg] bind() to 127.0.0.1:8080 failed (98: Address already in use)' >&2; exit 1\nfi\n\
                 exec '{r}' \"$@\"\n",
                m = marker.display(),
                r = real.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    #[tokio::test]
    async fn nginx_whose_port_was_taken_starts_again_on_another() {
        let real = find_nginx().expect("nginx (.ci/test installs it)");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tmp")).unwrap();
        std::fs::write(dir.path().join("upstreams.conf"), PLACEHOLDER).unwrap();
        let log = Log::create(&dir.path().join("demo.log")).unwrap();
        let ngx = flaky_nginx(dir.path(), &real);
        let conf = dir.path().join("nginx.conf");
        let (mut child, port) = start_nginx(&ngx, dir.path(), &conf, 0, &log).await.unwrap();
        assert!(
            dir.path().join("failed-once").exists(),
            "the first start failed"
        );
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "nginx listens on {port}"
        );
        // SIGTERM: nginx's fast shutdown takes its worker with it.
        let pid = i32::try_from(child.id().unwrap()).unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn nginx_that_cannot_start_is_an_error_with_its_own_words() {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::create(&dir.path().join("demo.log")).unwrap();
        let ngx = dir.path().join("broken-nginx");
        std::fs::write(
            &ngx,
            "#!/bin/sh\necho 'nginx: [emerg] unknown directive \"lissten\"' >&2; exit 1\n",
        )
        .unwrap();
        std::fs::set_permissions(&ngx, std::fs::Permissions::from_mode(0o755)).unwrap();
        let err = start_nginx(&ngx, dir.path(), &dir.path().join("nginx.conf"), 0, &log)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("exited at start"), "{err}");
        assert!(err.contains("unknown directive"), "{err}");
    }
}
