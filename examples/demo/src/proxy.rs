//! templater rendering nginx's upstream list from the healthy workers, and
//! nginx itself when it is installed (else the rendered file is the output).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use clap::Parser;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const UPSTREAMS: &str = "upstream workers {
{% for s in service(name=\"worker\") %}  server {{ s.Address }}:{{ s.Port }}; # {{ s.ID }}
{% else %}  server 127.0.0.1:9 down; # no healthy worker
{% endfor %}}
";

/// templater, and nginx when present.
pub(crate) struct Proxy {
    upstreams: PathBuf,
    nginx: Option<(Child, u16, String)>,
    templater_stop: CancellationToken,
    templater: tokio::task::JoinHandle<templater::Result<i32>>,
    events: mpsc::UnboundedSender<templater::runner::Event>,
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

impl Proxy {
    pub(crate) async fn start(
        consul: &str,
        dir: &Path,
        port: u16,
        want_nginx: bool,
    ) -> anyhow::Result<Proxy> {
        std::fs::create_dir_all(dir.join("tmp"))?;
        let upstreams = dir.join("upstreams.conf");
        std::fs::write(dir.join("upstreams.tmpl"), UPSTREAMS)?;
        let nginx = if want_nginx { find_nginx() } else { None };
        let port = free_port(port);
        let mut template = format!(
            "template {{\n  source = \"{}\"\n  destination = \"{}\"\n  wait = \"100ms:1s\"\n",
            dir.join("upstreams.tmpl").display(),
            upstreams.display()
        );
        if let Some(ngx) = &nginx {
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, nginx_conf(dir, port))?;
            let base = format!(
                "{} -p {} -c {}",
                ngx.display(),
                dir.display(),
                conf.display()
            );
            // The check runs before the new upstreams replace the live
            // ones: nginx checks a copy of its config that includes the
            // new file ({{path}}).
            let d = dir.display();
            let check = format!(
                "sed 's#include {d}/upstreams.conf;#include {{{{path}}}};#' {conf} > {d}/nginx-check.conf && {ngx} -p {d} -c {d}/nginx-check.conf -t -q",
                conf = conf.display(),
                ngx = ngx.display(),
            );
            template.push_str(&format!(
                "  check_command = \"{check}\"\n  command = \"{base} -s reload\"\n"
            ));
        }
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
        for _ in 0..300 {
            if upstreams.exists() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let nginx = match nginx {
            Some(ngx) => {
                let child = Command::new(&ngx)
                    .args([
                        "-p",
                        &dir.display().to_string(),
                        "-c",
                        &dir.join("nginx.conf").display().to_string(),
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .kill_on_drop(true)
                    .spawn()?;
                Some((child, port, ngx.display().to_string()))
            }
            None => None,
        };
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
            Some((_, port, _)) => format!(
                "nginx       http://127.0.0.1:{port}/square?n=7   (upstreams rendered by templater: {})",
                self.upstreams.display()
            ),
            None => format!("upstreams   {} (rendered by templater; nginx is not installed)", self.upstreams.display()),
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
            if self.nginx.is_some() {
                "nginx"
            } else {
                "rendered"
            }
        )
    }

    pub(crate) async fn stop(&mut self) {
        if let Some((child, _, ngx)) = self.nginx.as_mut() {
            let conf = self.upstreams.with_file_name("nginx.conf");
            let prefix = conf
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let _ = Command::new(ngx.as_str())
                .args([
                    "-p",
                    &prefix,
                    "-c",
                    &conf.display().to_string(),
                    "-s",
                    "quit",
                ])
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(5), child.wait())
                .await
                .is_err()
            {
                let _ = child.kill().await;
            }
        }
        let _ = self.events.send(templater::runner::Event::Stop(0));
        self.templater_stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.templater).await;
    }
}
