//! The demo as the README describes it from a terminal and without one: on
//! a pseudo-terminal, `q` and Ctrl-C (single keys, no Enter) stop it within
//! a second and the terminal's settings come back; with stdin at end of
//! input it keeps running, and SIGTERM stops it within a second, its
//! temporary directory removed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{native_pty_system, CommandBuilder, PtySize};

/// One demo at a time: the stop times are the figure under test, and three
/// demos at once on two cores would measure the machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const DEMO_ARGS: [&str; 7] = [
    "--http-port",
    "0",
    "--dns-port",
    "0",
    "--nginx-port",
    "0",
    "--no-nginx",
];

/// Polls `f` every 10 ms until it is true or `limit` passes.
fn within(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    f()
}

/// The demo on a pseudo-terminal, its output collected by a thread.
struct OnPty {
    child: Box<dyn portable_pty::Child + Send + Sync>,
    master: Box<dyn portable_pty::MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    out: Arc<Mutex<String>>,
}

impl OnPty {
    fn start() -> OnPty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: 40,
                cols: 200,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(e2e::bin("e2e-demo"));
        cmd.args(DEMO_ARGS);
        cmd.env_remove("CONSUL_HTTP_ADDR");
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let out = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&out);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        OnPty {
            child,
            master: pair.master,
            writer,
            out,
        }
    }

    fn output(&self) -> String {
        self.out.lock().unwrap().clone()
    }

    /// The terminal's local flags, as text (`ICANON | ECHO | ...`).
    fn local_flags(&self) -> String {
        format!("{:?}", self.master.get_termios().unwrap().local_flags)
    }

    fn wait_for_keys(&self) {
        assert!(
            within(Duration::from_secs(60), || self
                .output()
                .contains("keys: a adds a worker")),
            "the demo did not print its keys:\n{}",
            self.output()
        );
    }

    /// Types `bytes` (no Enter) and returns how long the demo took to exit.
    fn type_and_time_exit(&mut self, bytes: &[u8]) -> Duration {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
        let typed = Instant::now();
        let exited = within(Duration::from_secs(10), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        let took = typed.elapsed();
        assert!(exited, "the demo still runs 10 s later:\n{}", self.output());
        took
    }
}

impl Drop for OnPty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn stops_on_a_key(bytes: &[u8], what: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut demo = OnPty::start();
    let before = demo.local_flags();
    demo.wait_for_keys();
    let during = demo.local_flags();
    let has = |flags: &str, name: &str| {
        flags
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(|f| f == name)
    };
    assert!(
        has(&before, "ICANON") && !has(&during, "ICANON") && !has(&during, "ECHO"),
        "single keys: line buffering and echo off while the demo runs ({before} -> {during})"
    );
    assert!(has(&during, "ISIG"), "Ctrl-C still signals: {during}");
    let took = demo.type_and_time_exit(bytes);
    let out = demo.output();
    assert!(
        took < Duration::from_secs(1),
        "{what} -> exit took {took:?}:\n{out}"
    );
    assert!(
        out.contains("(0 services left registered)"),
        "{what}: everything deregistered:\n{out}"
    );
    let after = demo.local_flags();
    assert_eq!(after, before, "{what}: the terminal's settings are back");
    let status = demo.child.try_wait().unwrap().unwrap();
    assert!(status.success(), "{what}: exit {status:?}\n{out}");
}

#[test]
fn q_stops_the_demo_within_a_second_without_enter() {
    stops_on_a_key(b"q", "q");
}

#[test]
fn ctrl_c_stops_the_demo_within_a_second() {
    stops_on_a_key(b"\x03", "Ctrl-C");
}

#[test]
fn without_a_terminal_end_of_input_does_not_stop_it_and_sigterm_does() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let mut child = Command::new(e2e::bin("e2e-demo"))
        .args(DEMO_ARGS)
        .env_remove("CONSUL_HTTP_ADDR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let out = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&out);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let text = || out.lock().unwrap().clone();
    assert!(
        within(Duration::from_secs(60), || text().contains("keys: none")),
        "the demo says there are no keys without a terminal:\n{}",
        text()
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "end of input does not stop the demo:\n{}",
        text()
    );
    let banner = text();
    let log = banner
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Log"))
        .and_then(|l| l.split_whitespace().next())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| panic!("no Log line:\n{banner}"));
    assert!(log.exists(), "the log the banner names: {}", log.display());
    let dir = log.parent().unwrap().to_path_buf();
    assert!(
        !banner.contains("WARN") && !banner.contains("ERROR"),
        "{banner}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let sent = Instant::now();
    let exited = within(Duration::from_secs(10), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let took = sent.elapsed();
    assert!(exited, "SIGTERM stops the demo:\n{}", text());
    assert!(
        took < Duration::from_secs(1),
        "SIGTERM -> exit took {took:?}:\n{}",
        text()
    );
    assert!(child.wait().unwrap().success());
    assert!(
        text().contains("(0 services left registered)"),
        "{}",
        text()
    );
    assert!(
        !dir.exists(),
        "the temporary directory {} is removed",
        dir.display()
    );
}
