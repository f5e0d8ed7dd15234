//! The migration a consul-template user makes: the directory of templates
//! and HCL config in tests/fixtures/consul-template (consul-template's
//! syntax, unchanged: `template {}` blocks with `command`, `perms`,
//! `backup`, `wait`, `error_on_missing_key` and custom delimiters, an
//! `exec {}` block, a `-template` flag) run by the real templater binary
//! against a real devagent. The files are the ones in `expected/`, byte for
//! byte; the commands run as consul-template runs them, counted.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use support::{agent_on, eventually, put, read, register};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_templater");

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/consul-template")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// How many lines of `file` are `line`.
fn count(file: &Path, line: &str) -> usize {
    read(file).lines().filter(|l| *l == line).count()
}

fn mode(p: &Path) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777
}

const OUTPUTS: &[&str] = &[
    "nginx/upstreams.conf",
    "haproxy/backends.cfg",
    "app/config.json",
    "app/app.properties",
    "report.txt",
    "motd.txt",
];

async fn service(http: &reqwest::Client, base: &str, id: &str, extra: &str, status: &str) {
    let (name, _) = id.split_once('-').unwrap();
    register(
        http,
        base,
        &format!(
            r#"{{"ID":"{id}","Name":"{name}",{extra},"Check":{{"TTL":"60s","Status":"{status}"}}}}"#
        ),
    )
    .await;
}

#[tokio::test]
async fn a_consul_template_setup_runs_unchanged() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let http = reqwest::Client::new();
    for (id, extra, status) in [
        (
            "web-1",
            r#""Address":"10.0.0.11","Port":8080,"Tags":["http"]"#,
            "passing",
        ),
        (
            "web-2",
            r#""Address":"10.0.0.12","Port":8080,"Tags":["http"]"#,
            "passing",
        ),
        (
            "api-1",
            r#""Address":"10.0.1.1","Port":9000,"Tags":["http","v1"],"Meta":{"zone":"a"},"Weights":{"Passing":3,"Warning":1}"#,
            "passing",
        ),
        (
            "api-2",
            r#""Address":"10.0.1.2","Port":9000,"Tags":["v2","http"],"Meta":{"zone":"b"}"#,
            "passing",
        ),
        (
            "api-3",
            r#""Address":"10.0.1.3","Port":9000,"Tags":["http","v1"],"Meta":{"zone":"a"}"#,
            "warning",
        ),
        (
            "db-1",
            r#""Address":"10.0.2.1","Port":5432,"Tags":["postgres"]"#,
            "passing",
        ),
    ] {
        service(&http, &base, id, extra, status).await;
    }
    for (k, v) in [
        ("app/name", "shop"),
        ("app/config/log/level", "debug"),
        ("app/config/port", "9090"),
        ("app/config/features/search", "true"),
        ("app/properties/server/port", "9090"),
        ("app/properties/cache/ttl", "60s"),
    ] {
        assert_eq!(put(&http, &format!("{base}/v1/kv/{k}"), v).await, 200);
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_dir(&fixture(), d);
    let out = d.join("out");
    let mut child = Command::new(BIN)
        .current_dir(d)
        .args([
            "-config",
            "config.hcl",
            "-consul-addr",
            &base,
            "-template",
            "templates/motd.ctmpl:out/motd.txt:echo motd >> out/commands.log",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    let commands = out.join("commands.log");
    let exec_log = out.join("exec.log");
    let all_there = eventually(10, || async {
        OUTPUTS.iter().all(|f| out.join(f).exists())
            && read(&commands).lines().count() >= 4
            && count(&exec_log, "started") == 1
    })
    .await;
    assert!(
        all_there,
        "outputs: {:?}",
        std::fs::read_dir(&out).map(|r| r.count())
    );
    for f in OUTPUTS {
        let want = read(&fixture().join("expected").join(f));
        assert_eq!(read(&out.join(f)), want, "{f}");
    }
    assert_eq!(mode(&out.join("nginx/upstreams.conf")), 0o644);
    assert_eq!(mode(&out.join("haproxy/backends.cfg")), 0o640);
    for (line, n) in [
        ("nginx-reload", 1),
        ("haproxy-reload", 1),
        ("app-config", 1),
        ("motd", 1),
    ] {
        assert_eq!(count(&commands, line), n, "{line}: {}", read(&commands));
    }

    // A KV change: only the JSON config changes, so only its command runs.
    put(&http, &format!("{base}/v1/kv/app/config/log/level"), "warn").await;
    assert!(
        eventually(5, || async {
            read(&out.join("app/config.json")).contains("\"warn\"")
        })
        .await
    );
    // A new web instance: nginx, the report and the motd change.
    service(
        &http,
        &base,
        "web-3",
        r#""Address":"10.0.0.13","Port":8080,"Tags":["http"]"#,
        "passing",
    )
    .await;
    assert!(
        eventually(5, || async {
            count(&commands, "nginx-reload") == 2 && count(&commands, "motd") == 2
        })
        .await,
        "commands:\n{}\nupstreams:\n{}\nmotd: {}\nexec: {}",
        read(&commands),
        read(&out.join("nginx/upstreams.conf")),
        read(&out.join("motd.txt")),
        read(&exec_log)
    );
    let upstreams = read(&out.join("nginx/upstreams.conf"));
    assert!(
        upstreams.contains("server 10.0.0.13:8080 max_fails=3 fail_timeout=10s; # web-3"),
        "{upstreams}"
    );
    // backup = true: the file before the change.
    assert_eq!(
        read(&out.join("nginx/upstreams.conf.bak")),
        read(&fixture().join("expected/nginx/upstreams.conf"))
    );
    assert_eq!(
        read(&out.join("motd.txt")),
        "Welcome to shop (3 web servers up).\n"
    );
    // Nothing more runs once the changes have settled.
    tokio::time::sleep(Duration::from_millis(600)).await;
    for (line, n) in [
        ("nginx-reload", 2),
        ("haproxy-reload", 1),
        ("app-config", 2),
        ("motd", 2),
    ] {
        assert_eq!(count(&commands, line), n, "{line}: {}", read(&commands));
    }
    // exec: started once, told to reload (SIGHUP) after each pass that
    // wrote a file, as consul-template does: once for the KV change, once
    // or twice for the new instance (three templates whose data arrive
    // within milliseconds of each other, in one pass or two).
    assert_eq!(count(&exec_log, "started"), 1, "{}", read(&exec_log));
    let reloads = count(&exec_log, "reloaded");
    assert!((2..=3).contains(&reloads), "{}", read(&exec_log));

    // SIGTERM: templater stops the exec child (kill_signal) and exits 0.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("templater exits on SIGTERM")
        .unwrap();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = e.read_to_string(&mut err).await;
    }
    assert!(status.success(), "{status}: {err}");
    assert!(
        eventually(2, || async { count(&exec_log, "stopped") == 1 }).await,
        "{}",
        read(&exec_log)
    );
    agent.shutdown().await;
}
