//! `kill -9` at random moments of a check command, 100 times in a row: the
//! destination is always whole and always the last accepted content or the
//! new accepted one (never a rejected one), keeps its owner, group and mode,
//! stays a symlink to its file, and a restart leaves no temporary file.
#![allow(clippy::unwrap_used)]

mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use support::{agent_on, eventually, put};
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_templater");

const ROUNDS: usize = 100;

/// What the template renders for `value`: 64 KiB between two markers, so a
/// torn file cannot pass for a whole one.
fn content(value: &str) -> String {
    let filler = "0123456789abcdef".repeat(4096);
    format!("BEGIN {value}\n{filler}\nEND {value}\n")
}

fn temporary_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[tokio::test]
async fn kill_9_during_the_check_never_leaves_a_rejected_or_torn_file() {
    let agent = agent_on(0).await;
    let base = agent.http_url();
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let real_dir = d.join("real");
    std::fs::create_dir(&real_dir).unwrap();
    let real = real_dir.join("out.conf");
    let link = d.join("live.conf");
    std::os::unix::fs::symlink("real/out.conf", &link).unwrap();
    let mut accepted = content("initial");
    std::fs::write(&real, &accepted).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let root = nix::unistd::geteuid().is_root();
    let owner = if root {
        std::os::unix::fs::chown(&real, Some(4242), Some(4343)).unwrap();
        (4242, 4343)
    } else {
        let m = std::fs::metadata(&real).unwrap();
        (m.uid(), m.gid())
    };
    let filler = "0123456789abcdef".repeat(4096);
    std::fs::write(
        d.join("t.tmpl"),
        format!("BEGIN {{{{ key(path=\"v\") }}}}\n{filler}\nEND {{{{ key(path=\"v\") }}}}\n"),
    )
    .unwrap();
    let marker = d.join("check-started");
    let mut previous_pid = None;
    let (mut kept, mut replaced, mut rejected) = (0, 0, 0);
    for round in 0..ROUNDS {
        // Every fourth value is one the check rejects.
        let good = round % 4 != 3;
        let value = format!("{}-{round}", if good { "good" } else { "bad" });
        put(&http, &format!("{base}/v1/kv/v"), &value).await;
        let _ = std::fs::remove_file(&marker);
        let sleep_ms = fastrand::u64(1..=10);
        std::fs::write(
            d.join("t.hcl"),
            format!(
                "template {{\n  source = \"{d}/t.tmpl\"\n  destination = \"{link}\"\n  backup = true\n  \
                 check_command = \"echo > {marker}; sleep 0.{sleep_ms:03}; grep -q '^BEGIN good' {{{{path}}}}\"\n}}\n",
                d = d.display(),
                link = link.display(),
                marker = marker.display(),
            ),
        )
        .unwrap();
        let mut child = Command::new(BIN)
            .args(["-consul-addr", &base, "-config"])
            .arg(d.join("t.hcl"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = child.id().unwrap();
        assert!(
            eventually(10, || async { marker.exists() }).await,
            "round {round}: the check started"
        );
        // Its temporary files were cleaned before the first pass.
        if let Some(p) = previous_pid {
            let left: Vec<String> = temporary_files(&real_dir)
                .into_iter()
                .filter(|n| n.contains(&format!(".{p}.")))
                .collect();
            assert!(left.is_empty(), "round {round}: left by {p}: {left:?}");
        }
        // Somewhere in the check, or just after it.
        tokio::time::sleep(Duration::from_micros(fastrand::u64(
            0..(sleep_ms + 3) * 1000,
        )))
        .await;
        child.start_kill().unwrap();
        child.wait().await.unwrap();
        previous_pid = Some(pid);

        let now = std::fs::read_to_string(&link).unwrap();
        if now == accepted {
            kept += 1;
        } else {
            assert!(good, "round {round}: a rejected file is in place");
            assert_eq!(now, content(&value), "round {round}: a whole file");
            accepted = now;
            replaced += 1;
        }
        if !good {
            rejected += 1;
        }
        let link_meta = std::fs::symlink_metadata(&link).unwrap();
        assert!(
            link_meta.file_type().is_symlink(),
            "round {round}: still a link"
        );
        let m = std::fs::metadata(&real).unwrap();
        assert_eq!(
            (m.uid(), m.gid(), m.permissions().mode() & 0o7777),
            (owner.0, owner.1, 0o640),
            "round {round}: owner, group and mode kept"
        );
        if let Ok(bak) = std::fs::read_to_string(d.join("live.conf.bak")) {
            let value = bak
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("BEGIN ");
            assert!(
                (value == "initial" || value.starts_with("good")) && bak == content(value),
                "round {round}: the backup is a whole accepted file"
            );
        }
    }
    eprintln!("{ROUNDS} kills: {replaced} replaced the file, {kept} kept it ({rejected} of the values were rejected)");
    assert!(replaced > 0, "some rounds got through the check");

    // A last start cleans up and settles: no temporary file is left.
    let out = Command::new(BIN)
        .args(["-once", "-consul-addr", &base, "-config"])
        .arg(d.join("t.hcl"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(
        eventually(5, || async { temporary_files(&real_dir).is_empty() }).await,
        "{:?}",
        temporary_files(&real_dir)
    );
    assert!(temporary_files(d).is_empty());
    assert_eq!(
        out.status.code(),
        Some(14),
        "the last value is rejected by -once"
    );
    assert_eq!(std::fs::read_to_string(&link).unwrap(), accepted);
    agent.shutdown().await;
}
