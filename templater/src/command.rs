//! Template commands: run with a timeout, never concurrently with
//! themselves, once per burst of changes however many templates share them,
//! and never fatal: a failure is logged, counted and retried on the next change.

use std::collections::HashMap;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::status::Metrics;

/// A command line as consul-template runs it: one string with spaces goes
/// through `sh -c`; one word or a list is run directly.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CommandLine(pub Vec<String>);

impl CommandLine {
    fn build(&self) -> Option<tokio::process::Command> {
        let (prog, args): (String, Vec<String>) = match self.0.as_slice() {
            [] => return None,
            [one] if one.trim().contains(char::is_whitespace) => {
                ("sh".into(), vec!["-c".into(), one.clone()])
            }
            [one] => (one.trim().to_string(), Vec::new()),
            [prog, rest @ ..] => (prog.clone(), rest.to_vec()),
        };
        let mut cmd = tokio::process::Command::new(prog);
        cmd.args(args).process_group(0).kill_on_drop(true);
        Some(cmd)
    }

    /// How it shows in logs.
    pub fn display(&self) -> String {
        self.0.join(" ")
    }

    /// The check command for the staged file `path`: every [`PLACEHOLDERS`]
    /// replaced by the path, quoted for the shell when the command runs
    /// through `sh -c` and the path needs it (write the placeholder bare).
    pub fn with_file(&self, path: &std::path::Path) -> CommandLine {
        let raw = path.display().to_string();
        let shell = matches!(self.0.as_slice(), [one] if one.trim().contains(char::is_whitespace));
        let value = if shell { shell_quote(&raw) } else { raw };
        CommandLine(
            self.0
                .iter()
                .map(|part| {
                    PLACEHOLDERS
                        .iter()
                        .fold(part.clone(), |s, p| s.replace(p, &value))
                })
                .collect(),
        )
    }
}

/// What a check command writes for the file to check: `{{path}}`
/// (confd's `{{.src}}` works as well).
pub const PLACEHOLDERS: &[&str] = &["{{path}}", "{{.src}}"];

/// The environment variable that holds the file to check (the staged
/// output, beside the destination) while a check command runs.
pub const CHECK_FILE_ENV: &str = "TEMPLATER_CHECK_FILE";

/// The environment variable that holds the file a check command's file
/// replaces once the check passes (a symlinked destination's target).
pub const DESTINATION_ENV: &str = "TEMPLATER_DESTINATION";

/// `s` as one shell word: as it is when it holds only safe characters,
/// else single-quoted.
fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:@%,=".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Runs one command to completion or timeout.
pub async fn run_once(
    line: &CommandLine,
    env: &[(String, String)],
    timeout: Duration,
) -> Result<(), String> {
    let Some(mut cmd) = line.build() else {
        return Ok(());
    };
    cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("starting {:?}: {e}", line.display()))?;
    let pid = child.id();
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!(
            "{:?} exited with {}",
            line.display(),
            describe(status)
        )),
        Ok(Err(e)) => Err(format!("waiting for {:?}: {e}", line.display())),
        Err(_) => {
            if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            }
            let _ = child.kill().await;
            Err(format!(
                "{:?} did not exit within {timeout:?}: killed",
                line.display()
            ))
        }
    }
}

fn describe(s: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("status {c}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "an unknown status".into(),
    }
}

/// A request for a run: the timeout of the template that asked, and who
/// waits for the run to end.
type Request = (Duration, Option<oneshot::Sender<()>>);

/// The command runner: one worker per distinct command line.
///
/// It lives as long as the process, across reloads, so that a command never
/// runs concurrently with itself even when a reload comes in the middle of a
/// run. A worker ends when the process stops.
#[derive(Debug)]
pub struct Commands {
    workers: HashMap<CommandLine, mpsc::Sender<Request>>,
    env: Arc<Vec<(String, String)>>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
}

impl Commands {
    /// A runner passing `env` (the Consul connection) to every command.
    pub fn new(
        env: Vec<(String, String)>,
        metrics: Arc<Metrics>,
        stop: CancellationToken,
    ) -> Commands {
        Commands {
            workers: HashMap::new(),
            env: Arc::new(env),
            metrics,
            stop,
        }
    }

    /// The environment commands get.
    pub fn env(&self) -> Arc<Vec<(String, String)>> {
        Arc::clone(&self.env)
    }

    /// Asks for one run of `line`. A request while it runs queues exactly one
    /// more run after it; further requests merge into that one.
    pub fn request(&mut self, line: &CommandLine, timeout: Duration) {
        if let Some(worker) = self.worker(line) {
            // Full: a run is already queued, this request merges into it.
            let _ = worker.try_send((timeout, None));
        }
    }

    /// A run of `line` after the one in progress (if any); the future ends
    /// when that run has ended (each run is bounded by its timeout).
    pub fn run_after(
        &mut self,
        line: &CommandLine,
        timeout: Duration,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let worker = self.worker(line);
        async move {
            let Some(worker) = worker else { return };
            let (done, ended) = oneshot::channel();
            if worker.send((timeout, Some(done))).await.is_ok() {
                let _ = ended.await;
            }
        }
    }

    /// The worker of `line`, started on first use.
    fn worker(&mut self, line: &CommandLine) -> Option<mpsc::Sender<Request>> {
        if line.0.is_empty() {
            return None;
        }
        let worker = self.workers.entry(line.clone()).or_insert_with(|| {
            // Room for one request: a full channel means a run is queued.
            let (tx, mut rx) = mpsc::channel::<Request>(1);
            let (line, env, metrics, stop) = (
                line.clone(),
                Arc::clone(&self.env),
                Arc::clone(&self.metrics),
                self.stop.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let (timeout, done) = tokio::select! {
                        _ = stop.cancelled() => return,
                        r = rx.recv() => match r {
                            Some(r) => r,
                            None => return,
                        },
                    };
                    metrics.command_runs.inc();
                    tracing::info!(command = %line.display(), "running command");
                    if let Err(e) = run_once(&line, &env, timeout).await {
                        metrics.command_failures.inc();
                        tracing::error!(error = %e, "command failed; it runs again on the next change");
                    }
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
            });
            tx
        });
        Some(worker.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shell_and_direct_forms_timeouts_and_statuses() {
        let env = vec![("X_TEST".to_string(), "42".to_string())];
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o");
        let sh = CommandLine(vec![format!("echo $X_TEST > {}", out.display())]);
        run_once(&sh, &env, Duration::from_secs(5)).await.unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap().trim(), "42");
        assert!(run_once(
            &CommandLine(vec!["true".into()]),
            &env,
            Duration::from_secs(5)
        )
        .await
        .is_ok());
        let e = run_once(
            &CommandLine(vec!["false".into()]),
            &env,
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert!(e.contains("status 1"), "{e}");
        let started = std::time::Instant::now();
        let e = run_once(
            &CommandLine(vec!["sleep 30".into()]),
            &env,
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
        assert!(
            e.contains("did not exit") && started.elapsed() < Duration::from_secs(5),
            "{e}"
        );
        let e = run_once(
            &CommandLine(vec!["/no/such/binary".into()]),
            &env,
            Duration::from_secs(1),
        )
        .await
        .unwrap_err();
        assert!(e.contains("starting"), "{e}");
    }

    #[tokio::test]
    async fn check_placeholders_become_the_file_quoted_for_the_shell() {
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("it's a dir");
        std::fs::create_dir(&odd).unwrap();
        let file = odd.join(".x.conf.1.a.tmp");
        std::fs::write(&file, "content").unwrap();
        let plain = std::path::Path::new("/etc/nginx/.nginx.conf.12.ab.tmp");
        let sh = CommandLine(vec!["nginx -t -c {{path}}".into()]);
        assert_eq!(
            sh.with_file(plain).0,
            vec!["nginx -t -c /etc/nginx/.nginx.conf.12.ab.tmp"]
        );
        let list = CommandLine(vec![
            "haproxy".into(),
            "-c".into(),
            "-f".into(),
            "{{.src}}".into(),
        ]);
        assert_eq!(list.with_file(&file).0[3], file.display().to_string());
        // Through the shell, a path with a space and a quote is one word;
        // a plain path can be in the user's own quotes as well.
        let out = dir.path().join("out");
        let plain = dir.path().join(".plain.conf.1.a.tmp");
        std::fs::write(&plain, "plain").unwrap();
        for (cmd, file, want) in [
            ("cat {{path}} > {out}", &file, "content"),
            ("cat '{{path}}' > {out}", &plain, "plain"),
            ("cat \"{{path}}\" > {out}", &plain, "plain"),
        ] {
            let cmd = cmd.replace("{out}", &out.display().to_string());
            let line = CommandLine(vec![cmd]).with_file(file);
            run_once(&line, &[], Duration::from_secs(5)).await.unwrap();
            assert_eq!(std::fs::read_to_string(&out).unwrap(), want);
        }
    }

    #[tokio::test]
    async fn requests_during_a_run_coalesce_into_one_more_run() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("runs");
        let line = CommandLine(vec![format!("echo run >> {}; sleep 0.3", log.display())]);
        let mut c = Commands::new(
            vec![],
            Arc::new(Metrics::default()),
            CancellationToken::new(),
        );
        for _ in 0..20 {
            c.request(&line, Duration::from_secs(5));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        for _ in 0..20 {
            c.request(&line, Duration::from_secs(5));
        }
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let runs = std::fs::read_to_string(&log).unwrap().lines().count();
        assert_eq!(runs, 2, "40 requests in two bursts: one run, then one more");
    }
}
