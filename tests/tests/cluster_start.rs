//! Starting the examples' NATS cluster (`bus::cluster::Cluster::start`)
//! when a node cannot start. Its ports are chosen free, but another process
//! may bind one before the node does (CI once saw the demo exit this way):
//! the cluster is then started again on other ports, and nothing of the
//! failed attempt is left running. Any other failure ends the start at once
//! with the node's own fatal line. The node that fails is a real
//! `nats-server` behind a wrapper that fails its first start the way
//! `nats-server` does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use e2e::{bin, devagent, Proc};

/// A `nats-server` that fails node 1's first `fails` starts with `line` on
/// stderr and exit status 1 (as `nats-server` does on a fatal error), and
/// counts node 1's starts in `starts`.
fn wrapper(dir: &Path, real: &Path, fails: u32, line: &str) -> std::path::PathBuf {
    let script = dir.join("nats-server-wrapper");
    let starts = dir.join("starts");
    let fatal = dir.join("fatal");
    std::fs::write(
        &fatal,
        format!("[1] 2026/12/06 06:44:48.538861 [FTL] {line}\n"),
    )
    .unwrap();
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             case \"$*\" in *'--server_name nats-1 '*)\n\
               echo start >> '{starts}'\n\
               if [ \"$(wc -l < '{starts}')\" -le {fails} ]; then\n\
                 cat '{fatal}' >&2; exit 1\n\
               fi;;\n\
             esac\n\
             exec '{real}' \"$@\"\n",
            starts = starts.display(),
            fatal = fatal.display(),
            real = real.display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn starts(dir: &Path) -> usize {
    std::fs::read_to_string(dir.join("starts"))
        .unwrap_or_default()
        .lines()
        .count()
}

/// `nats-server` processes whose command line names `dir`.
fn servers_in(dir: &Path) -> usize {
    let dir = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).into_owned())
        .filter(|c| {
            c.split('\0')
                .next()
                .is_some_and(|argv0| argv0.ends_with("nats-server"))
                && c.contains(&dir)
        })
        .count()
}

fn spec(dir: &Path, consul: &str, nats_server: std::path::PathBuf) -> bus::cluster::ClusterSpec {
    bus::cluster::ClusterSpec {
        nodes: 3,
        dir: dir.join("nats"),
        consul: consul.to_string(),
        tag: Some("e2e-start".into()),
        check_interval: Duration::from_millis(300),
        registrar: vec![bin("e2e-registrar").into()],
        nats_server,
        name: "e2e-start".into(),
        log: Some(dir.join("cluster.log")),
    }
}

/// Starts a cluster (against a devagent of its own) whose node 1 fails its
/// first `fails` starts with `line`. The devagent lives as long as the
/// returned process.
async fn start(
    dir: &Path,
    fails: u32,
    line: &str,
) -> (Proc, anyhow::Result<bus::cluster::Cluster>) {
    let real =
        bus::cluster::find_nats_server().unwrap_or_else(|e| panic!("{e} (.ci/test installs it)"));
    let (agent, http_addr) = devagent(0).await;
    let nats = wrapper(dir, &real, fails, line);
    let started = bus::cluster::Cluster::start(
        spec(dir, &format!("http://{http_addr}"), nats),
        Duration::from_secs(60),
    )
    .await;
    (agent, started)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_port_was_taken_is_started_again_on_other_ports() {
    let dir = tempfile::tempdir().unwrap();
    let (_agent, started) = start(
        dir.path(),
        1,
        "Can't start monitoring: can't listen to the monitor port: listen tcp 127.0.0.1:41015: bind: address already in use",
    )
    .await;
    let mut cluster = started.unwrap_or_else(|e| {
        panic!(
            "{e:#}\n{}",
            std::fs::read_to_string(dir.path().join("cluster.log")).unwrap_or_default()
        )
    });
    assert_eq!(starts(dir.path()), 2, "node 1 started twice");
    assert_eq!(cluster.passing().await.unwrap(), 3);
    // Only this attempt's three servers run: the first attempt's two
    // healthy nodes were stopped, not left behind.
    assert_eq!(servers_in(dir.path()), 3);
    cluster.stop(Duration::from_secs(5)).await;
    assert_eq!(servers_in(dir.path()), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_cannot_start_for_another_reason_ends_the_start_with_its_own_words() {
    let dir = tempfile::tempdir().unwrap();
    let t0 = std::time::Instant::now();
    let (_agent, started) = start(
        dir.path(),
        u32::MAX,
        "Can't start JetStream: could not create storage directory - permission denied",
    )
    .await;
    let err = started.expect_err("node 1 cannot start");
    let msg = format!(
        "{err:#}\n{}",
        std::fs::read_to_string(dir.path().join("cluster.log")).unwrap_or_default()
    );
    assert!(msg.contains("broker node 1"), "{msg}");
    assert!(
        msg.contains("could not create storage directory - permission denied"),
        "the node's own fatal line: {msg}"
    );
    assert_eq!(starts(dir.path()), 1, "not retried: {msg}");
    assert!(t0.elapsed() < Duration::from_secs(20), "{msg}");
    assert_eq!(servers_in(dir.path()), 0, "nodes 2 and 3 stopped: {msg}");
}
