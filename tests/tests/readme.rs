//! Every command of the README, run as written, in the README's order, and
//! checked for what the README says it does: the shell blocks are read from
//! README.md itself, and a command this test does not know fails it, so the
//! README cannot gain an untested command.
//!
//! The commands run with `bash -c` from the checkout (or, for the
//! "Using dcy" and operator examples, from a scratch directory next to a
//! link to the checkout named `dcy`, as the README lays them out), with
//! stdin at end of input, `CARGO_INSTALL_ROOT` in the scratch directory (so
//! `cargo install` does not touch `~/.cargo/bin`; its `bin` goes first on
//! `PATH`) and the workspace's target directory for every cargo build. The
//! README's own ports are used: 8500, 8600 and 8080 must be free.
//!
//! The demo's and the installs' release builds happen here when the
//! README's first command was not run before: minutes, once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const README: &str = include_str!("../../README.md");

/// The contents of the README's fenced blocks of language `lang`.
fn blocks(lang: &str) -> Vec<String> {
    let open = format!("```{lang}");
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in README.lines() {
        match &mut current {
            None if line.trim_end() == open => current = Some(String::new()),
            None => {}
            Some(_) if line.trim_end() == "```" => out.extend(current.take()),
            Some(text) => {
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    out
}

/// The commands of the README's `sh` blocks, in order (comments dropped).
fn commands() -> Vec<String> {
    blocks("sh")
        .iter()
        .flat_map(|b| b.lines().map(str::to_string).collect::<Vec<_>>())
        .map(|l| strip_comment(&l).trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// A line without its trailing `# comment` (outside quotes).
fn strip_comment(line: &str) -> &str {
    let (mut single, mut double) = (false, false);
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && (i == 0 || line[..i].ends_with(' ')) => {
                return &line[..i];
            }
            _ => {}
        }
    }
    line
}

/// The workspace root and its target directory.
fn workspace() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    (root, target)
}

/// Where and how the commands run.
struct Shell {
    root: PathBuf,
    target: PathBuf,
    scratch: tempfile::TempDir,
}

impl Shell {
    fn install_root(&self) -> PathBuf {
        self.scratch.path().join("root")
    }

    fn command(&self, cmd: &str, cwd: &Path) -> Command {
        let path = format!(
            "{}:{}",
            self.install_root().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(cmd)
            .current_dir(cwd)
            .env("PATH", path)
            .env("CARGO_INSTALL_ROOT", self.install_root())
            .env("CARGO_TARGET_DIR", &self.target)
            .env_remove("CONSUL_HTTP_ADDR")
            .env_remove("CONSUL_HTTP_TOKEN")
            .env_remove("RUSTFLAGS")
            .stdin(Stdio::null());
        c
    }

    /// Runs `cmd` to its end (bounded); returns its stdout.
    fn run(&self, cmd: &str, cwd: &Path, limit: Duration) -> String {
        let bg = Bg::start(self.command(cmd, cwd), cmd);
        let ok = within(limit, || bg.exited().is_some());
        // Its output threads finish once the pipes close.
        within(Duration::from_secs(2), || {
            Arc::strong_count(&bg.out[0]) == 1 && Arc::strong_count(&bg.out[1]) == 1
        });
        let out = bg.output();
        assert!(ok, "`{cmd}` did not finish within {limit:?}:\n{out}");
        let status = bg.exited().unwrap();
        assert!(status, "`{cmd}` failed:\n{out}");
        bg.stdout()
    }

    fn start(&self, cmd: &str, cwd: &Path) -> Bg {
        Bg::start(self.command(cmd, cwd), cmd)
    }
}

/// A command running in its own process group, its output collected;
/// killed (the whole group) on drop.
struct Bg {
    child: Mutex<Child>,
    /// stdout, then stderr.
    out: [Arc<Mutex<String>>; 2],
    cmd: String,
}

impl Bg {
    fn start(mut c: Command, cmd: &str) -> Bg {
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = c.spawn().unwrap_or_else(|e| panic!("`{cmd}`: {e}"));
        let out = [
            Arc::new(Mutex::new(String::new())),
            Arc::new(Mutex::new(String::new())),
        ];
        for (pipe, sink) in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .zip(&out)
        {
            let Some(pipe) = pipe else { continue };
            let sink = Arc::clone(sink);
            let mut pipe = pipe;
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    sink.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Bg {
            child: Mutex::new(child),
            out,
            cmd: cmd.to_string(),
        }
    }

    /// stdout and stderr, for messages.
    fn output(&self) -> String {
        format!("{}{}", self.stdout(), self.out[1].lock().unwrap())
    }

    fn stdout(&self) -> String {
        self.out[0].lock().unwrap().clone()
    }

    /// `Some(success)` once it has exited.
    fn exited(&self) -> Option<bool> {
        self.child
            .lock()
            .unwrap()
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.success())
    }

    fn wait_for_output(&self, needle: &str, limit: Duration) -> String {
        let seen = within(limit, || {
            self.output().contains(needle) || self.exited().is_some()
        });
        let out = self.output();
        assert!(
            seen && out.contains(needle),
            "`{}` did not print {needle:?} within {limit:?}:\n{out}",
            self.cmd
        );
        out
    }

    /// SIGINT to the group, as Ctrl-C in a terminal, then its exit
    /// (bounded, and a success); returns the output.
    fn interrupt(&self, limit: Duration) -> String {
        let out = self.interrupt_any(limit);
        assert_eq!(
            self.exited(),
            Some(true),
            "`{}` after SIGINT:\n{out}",
            self.cmd
        );
        out
    }

    /// SIGINT to the group, then its exit (bounded, whatever its status).
    fn interrupt_any(&self, limit: Duration) -> String {
        let pid = self.child.lock().unwrap().id();
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
            nix::sys::signal::Signal::SIGINT,
        );
        let done = within(limit, || self.exited().is_some());
        let out = self.output();
        assert!(
            done,
            "`{}` still runs {limit:?} after SIGINT:\n{out}",
            self.cmd
        );
        out
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap_or(0)),
            nix::sys::signal::Signal::SIGKILL,
        );
        let _ = child.wait();
    }
}

/// Polls `f` every 50 ms until it is true or `limit` passes.
fn within(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// A plain HTTP/1.0 GET on loopback: the body, or `None`.
fn get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    (head.split_whitespace().nth(1) == Some("200")).then(|| body.to_string())
}

/// Instances of `service` in `GET /v1/health/service/<service>?passing...`.
fn passing(query: &str) -> usize {
    get(8500, &format!("/v1/health/service/{query}"))
        .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
        .and_then(|v| v.as_array().map(Vec::len))
        .unwrap_or(0)
}

/// The URL or command after `label` on a line of the demo's banner.
fn banner_line<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .unwrap_or_else(|| panic!("no {label} line:\n{out}"))
        .trim()
}

/// How long the demo may take to print its banner: the first time, the
/// release build comes first.
const FIRST_BUILD: Duration = Duration::from_secs(45 * 60);

/// The README's demo command, checked: URLs, the example curl and dig of
/// the banner, and a clean stop.
fn demo(sh: &Shell, cmd: &str, workers: usize) -> Bg {
    let demo = sh.start(cmd, &sh.root);
    let out = demo.wait_for_output("keys: none (stdin is not a terminal)", FIRST_BUILD);
    assert!(out.contains("every service passing"), "{out}");
    assert!(
        banner_line(&out, "Consul API").starts_with("http://127.0.0.1:8500 "),
        "on Consul's port:\n{out}"
    );
    let curl = banner_line(&out, "Consul API")
        .split_once("e.g. ")
        .unwrap()
        .1;
    let answer = sh.run(curl, &sh.root, Duration::from_secs(10));
    let listed: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(
        listed.as_array().unwrap().len(),
        workers,
        "`{curl}` lists the workers: {answer}"
    );
    let dig = banner_line(&out, "Consul DNS");
    let srv = sh.run(&format!("{dig} +short"), &sh.root, Duration::from_secs(10));
    assert_eq!(srv.lines().count(), workers, "`{dig}`: {srv}");
    demo
}

fn stopped_clean(out: &str) {
    assert!(out.contains("(0 services left registered)"), "{out}");
}

/// The ports the README's commands use.
fn ports_free() {
    for port in [8500u16, 8080] {
        assert!(
            TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is taken: the README's commands use it (stop what listens there, a demo?)"
        );
    }
    assert!(
        UdpSocket::bind(("127.0.0.1", 8600)).is_ok()
            && TcpListener::bind(("127.0.0.1", 8600)).is_ok(),
        "port 8600 is taken: the README's commands use it"
    );
}

#[test]
fn every_readme_command_does_what_the_readme_says() {
    ports_free();
    let (root, target) = workspace();
    let sh = Shell {
        root: root.clone(),
        target,
        scratch: tempfile::tempdir().unwrap(),
    };
    // The README's layout: the program next to the checkout, named dcy.
    let scratch = sh.scratch.path().to_path_buf();
    std::os::unix::fs::symlink(&root, scratch.join("dcy")).unwrap();
    let hello = scratch.join("hello-dcy");
    let mut agent: Option<Bg> = None;
    let mut registrar: Option<Bg> = None;
    let mut acl_agent: Option<Bg> = None;
    let mut seen = Vec::new();

    for cmd in commands() {
        seen.push(cmd.clone());
        match cmd.as_str() {
            "cargo run --release --bin demo" => {
                let demo = demo(&sh, &cmd, 2);
                stopped_clean(&demo.interrupt(Duration::from_secs(5)));
            }
            ".ci/test" => {
                // The command running this test: it is what CI runs.
                let script = root.join(".ci/test");
                let mode = std::fs::metadata(&script).unwrap().permissions().mode();
                assert!(mode & 0o111 != 0, ".ci/test is executable");
                let ci = std::fs::read_to_string(root.join(".ci/run")).unwrap();
                assert!(
                    ci.lines().any(|l| l.trim() == ".ci/test"),
                    ".ci/run runs the README's test command"
                );
            }
            "cargo run --release --bin demo -- --workers 4 --chaos 2s" => {
                let demo = demo(&sh, &cmd, 4);
                demo.wait_for_output("chaos: killed worker", Duration::from_secs(5));
                demo.wait_for_output("deregistered the killed worker", Duration::from_secs(5));
                stopped_clean(&demo.interrupt(Duration::from_secs(5)));
            }
            "cargo run --release --bin demo -- --transport nats" => {
                let demo = demo(&sh, &cmd, 2);
                let out = demo.output();
                for node in ["nats-1", "nats-2", "nats-3"] {
                    assert!(out.contains(&format!(" {node} nats://127.0.0.1:")), "{node} on the banner:\n{out}");
                }
                assert_eq!(passing("nats?passing&tag=dcy-demo"), 3, "three broker nodes, registered by registrar");
                let port_of = |label: &str| -> u16 {
                    let url = banner_line(&out, label);
                    let url = url.split_whitespace().next().unwrap();
                    let host = url.trim_start_matches("http://").split('/').next().unwrap();
                    host.rsplit(':').next().unwrap().parse().unwrap()
                };
                let app = port_of("App stats");
                let flowing = within(Duration::from_secs(20), || {
                    get(app, "/stats")
                        .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
                        .is_some_and(|v| v["transport"] == "nats" && v["ok"].as_u64() > Some(100) && v["failed"] == 0)
                });
                assert!(flowing, "squares arrive at the app over the broker: {:?}", get(app, "/stats"));
                let dash = port_of("Dashboard");
                let streams = within(Duration::from_secs(10), || {
                    get(dash, "/api/snapshot")
                        .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
                        .is_some_and(|v| v["broker"]["jetstream"]["streams"].as_array().is_some_and(|a| a.len() == 2))
                });
                assert!(streams, "the dashboard shows the streams");
                stopped_clean(&demo.interrupt(Duration::from_secs(5)));
            }
            "cargo new hello-dcy" => {
                sh.run(&cmd, &scratch, Duration::from_secs(60));
                let manifest = hello.join("Cargo.toml");
                let toml = std::fs::read_to_string(&manifest).unwrap();
                let deps = blocks("toml");
                assert_eq!(deps.len(), 1, "one Cargo.toml block");
                let toml = toml.replace("[dependencies]\n", &deps[0]);
                std::fs::write(&manifest, toml).unwrap();
                // The first Rust block is hello-dcy's main.rs; the gRPC
                // and TCP ones are run by dcy/tests/readme_grpc_tcp.rs.
                let rust = blocks("rust");
                assert_eq!(rust.len(), 3, "hello-dcy's, the gRPC and the TCP Rust blocks");
                std::fs::write(hello.join("src/main.rs"), &rust[0]).unwrap();
                // The versions this workspace pins, so the build needs no network.
                std::fs::copy(root.join("Cargo.lock"), hello.join("Cargo.lock")).unwrap();
            }
            "cd hello-dcy && cargo run" => {
                let demo = demo(&sh, "cargo run --release --bin demo", 2);
                let out = sh.run(&cmd, &scratch, FIRST_BUILD);
                assert!(out.contains("one worker: Some(\"worker-"), "{out}");
                assert!(out.contains("\"square\":49"), "{out}");
                stopped_clean(&demo.interrupt(Duration::from_secs(5)));
            }
            "cargo install --locked --path devagent"
            | "cargo install --locked --path templater"
            | "cargo install --locked --path registrar" => {
                sh.run(&cmd, &root, FIRST_BUILD);
                let name = cmd.rsplit(' ').next().unwrap();
                assert!(sh.install_root().join("bin").join(name).is_file(), "{name} installed");
            }
            "devagent agent -dev -http-port 8500 -dns-port 8600" => {
                let a = sh.start(&cmd, &scratch);
                assert!(
                    within(Duration::from_secs(10), || get(8500, "/v1/status/leader").is_some()),
                    "devagent answers on 8500:\n{}",
                    a.output()
                );
                agent = Some(a);
            }
            "registrar run -name web -port 8080 -check-http http://127.0.0.1:8080/ -- python3 -m http.server 8080 --bind 127.0.0.1" =>
            {
                let r = sh.start(&cmd, &scratch);
                assert!(
                    within(Duration::from_secs(20), || passing("web?passing") == 1),
                    "web registered and passing:\n{}",
                    r.output()
                );
                registrar = Some(r);
            }
            "dig @127.0.0.1 -p 8600 web.service.consul SRV +short" => {
                let out = sh.run(&cmd, &scratch, Duration::from_secs(10));
                assert!(
                    out.lines().any(|l| l.split_whitespace().nth(2) == Some("8080")),
                    "an SRV answer with port 8080: {out}"
                );
            }
            "curl -s 'http://127.0.0.1:8500/v1/health/service/web?passing'" => {
                let out = sh.run(&cmd, &scratch, Duration::from_secs(10));
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                assert_eq!(v[0]["Service"]["Port"], 8080, "{out}");
                let checks = v[0]["Checks"].as_array().unwrap();
                assert!(
                    !checks.is_empty() && checks.iter().all(|c| c["Status"] == "passing"),
                    "{out}"
                );
            }
            "templater -template \"web.ctmpl:web.conf\" -once" => {
                let tmpl = blocks("gotemplate");
                assert_eq!(tmpl.len(), 1, "one template block");
                std::fs::write(scratch.join("web.ctmpl"), &tmpl[0]).unwrap();
                sh.run(&cmd, &scratch, Duration::from_secs(20));
            }
            "cat web.conf" => {
                let out = sh.run(&cmd, &scratch, Duration::from_secs(5));
                assert_eq!(
                    out,
                    "upstream web {\n  server 127.0.0.1:8080;\n}\n",
                    "what the README says web.conf holds"
                );
            }
            "devagent agent -dev -config-file acl.hcl" => {
                // The operator section is done: its registrar and agent go
                // first (they hold 8080 and 8500).
                let r = registrar.take().expect("registrar ran");
                r.interrupt_any(Duration::from_secs(5));
                assert_eq!(passing("web"), 0, "registrar deregistered web");
                agent
                    .take()
                    .expect("devagent ran")
                    .interrupt(Duration::from_secs(5));
                let hcl = blocks("hcl");
                assert!(!hcl.is_empty(), "the ACL section's config block");
                std::fs::write(scratch.join("acl.hcl"), &hcl[0]).unwrap();
                let a = sh.start(&cmd, &scratch);
                a.wait_for_output("bootstrap", Duration::from_secs(10));
                acl_agent = Some(a);
            }
            "curl -s -X PUT http://127.0.0.1:8500/v1/acl/bootstrap" => {
                let out = sh.run(&cmd, &scratch, Duration::from_secs(10));
                let v: serde_json::Value = serde_json::from_str(&out).unwrap();
                assert!(
                    v["SecretID"].as_str().is_some_and(|s| s.len() == 36),
                    "the bootstrap answer holds the management token: {out}"
                );
                let again = sh.run(&cmd, &scratch, Duration::from_secs(10));
                assert!(again.contains("ACL bootstrap no longer allowed"), "once: {again}");
            }
            other => panic!(
                "the README has a command tests/tests/readme.rs does not run: {other:?}"
            ),
        }
    }
    // Every command this test knows is still in the README.
    assert_eq!(seen.len(), 17, "the README's commands: {seen:#?}");
    acl_agent
        .take()
        .expect("the ACL example's devagent ran")
        .interrupt(Duration::from_secs(5));
}
