//! Exec mode: templater supervises one child that uses the rendered files.
//! It starts after every template rendered once, is reloaded (a signal, or a
//! restart) when output changes, receives forwarded signals, and when it
//! exits templater exits with its code.

use std::collections::HashMap;
use std::time::Duration;

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use crate::config::ExecConfig;
use crate::error::{Error, Result};

/// Parses `SIGHUP`, `HUP` or a number.
pub fn parse_signal(s: &str) -> Result<Signal> {
    let up = s.trim().to_ascii_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    name.parse::<Signal>()
        .or_else(|_| {
            s.trim()
                .parse::<i32>()
                .map_err(|_| ())
                .and_then(|n| Signal::try_from(n).map_err(|_| ()))
        })
        .map_err(|()| {
            Error::config(format!(
                "unknown signal {s:?}: use a name such as SIGHUP or SIGTERM"
            ))
        })
}

fn glob_match(glob: &str, s: &str) -> bool {
    let re = format!(
        "^{}$",
        glob.chars()
            .map(|c| match c {
                '*' => ".*".to_string(),
                '?' => ".".to_string(),
                c => regex::escape(&c.to_string()),
            })
            .collect::<String>()
    );
    regex::Regex::new(&re).is_ok_and(|r| r.is_match(s))
}

/// The child's environment after pristine/allowlist/denylist/custom.
pub fn child_env(
    cfg: &ExecConfig,
    base: &HashMap<String, String>,
    consul: &[(String, String)],
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = if cfg.env_pristine {
        Vec::new()
    } else {
        base.iter()
            .filter(|(k, _)| {
                cfg.env_allowlist.is_empty() || cfg.env_allowlist.iter().any(|g| glob_match(g, k))
            })
            .filter(|(k, _)| !cfg.env_denylist.iter().any(|g| glob_match(g, k)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    env.extend(consul.iter().cloned());
    for kv in &cfg.env_custom {
        if let Some((k, v)) = kv.split_once('=') {
            env.push((k.to_string(), v.to_string()));
        }
    }
    env
}

/// The supervised child.
#[derive(Debug)]
pub struct Exec {
    cfg: ExecConfig,
    env: Vec<(String, String)>,
    child: Option<Child>,
    shell: bool,
}

impl Exec {
    /// A supervisor for `cfg` (not started).
    pub fn new(cfg: ExecConfig, env: Vec<(String, String)>) -> Exec {
        let shell = cfg.command.len() == 1 && cfg.command[0].contains(char::is_whitespace);
        Exec {
            cfg,
            env,
            child: None,
            shell,
        }
    }

    /// Starts the child.
    pub fn start(&mut self) -> Result<()> {
        let (prog, args): (&str, Vec<&str>) = match self.cfg.command.as_slice() {
            [one] if self.shell => ("sh", vec!["-c", one.as_str()]),
            [prog, rest @ ..] => (prog.as_str(), rest.iter().map(String::as_str).collect()),
            [] => return Err(Error::config("exec: empty command")),
        };
        let mut cmd = Command::new(prog);
        cmd.args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if self.shell {
            cmd.process_group(0);
        }
        let child = cmd.spawn().map_err(|e| {
            Error::runner(format!(
                "exec: starting {:?}: {e}",
                self.cfg.command.join(" ")
            ))
        })?;
        tracing::info!(pid = child.id(), command = %self.cfg.command.join(" "), "exec: child started");
        self.child = Some(child);
        Ok(())
    }

    fn pid(&self) -> Option<Pid> {
        self.child
            .as_ref()?
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .map(Pid::from_raw)
    }

    /// Sends a signal to the child (its process group when started through `sh -c`).
    pub fn signal(&self, sig: Signal) {
        if let Some(pid) = self.pid() {
            let r = if self.shell {
                killpg(pid, sig)
            } else {
                kill(pid, sig)
            };
            if let Err(e) = r {
                tracing::warn!(signal = %sig, error = %e, "exec: signalling the child failed");
            }
        }
    }

    async fn splay(&self) {
        if !self.cfg.splay.is_zero() {
            let ms = fastrand::u64(0..=self.cfg.splay.as_millis() as u64);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }

    /// After a change: the reload signal, or a restart when there is none.
    pub async fn reload(&mut self) -> Result<()> {
        self.splay().await;
        match &self.cfg.reload_signal {
            Some(s) => {
                self.signal(parse_signal(s)?);
                Ok(())
            }
            None => {
                self.stop(false).await;
                self.start()
            }
        }
    }

    /// Stops the child: kill signal, then SIGKILL after the kill timeout.
    pub async fn stop(&mut self, immediately: bool) {
        if !immediately {
            self.splay().await;
        }
        let sig = parse_signal(&self.cfg.kill_signal).unwrap_or(Signal::SIGINT);
        self.signal(sig);
        if let Some(child) = self.child.as_mut() {
            if tokio::time::timeout(self.cfg.kill_timeout, child.wait())
                .await
                .is_err()
            {
                tracing::warn!("exec: child ignored {sig}; killing it");
                let _ = child.kill().await;
            }
        }
        self.child = None;
    }

    /// Resolves when the child exits, with its exit code (128+signal when killed).
    pub async fn exited(&mut self) -> i32 {
        use std::os::unix::process::ExitStatusExt;
        match self.child.as_mut() {
            Some(c) => match c.wait().await {
                Ok(s) => s.code().unwrap_or_else(|| 128 + s.signal().unwrap_or(0)),
                Err(_) => 1,
            },
            None => std::future::pending().await,
        }
    }

    /// Whether a child runs.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_and_env_filtering() {
        assert_eq!(parse_signal("hup").unwrap(), Signal::SIGHUP);
        assert_eq!(parse_signal("SIGTERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("SIGNOPE").is_err());
        let base = HashMap::from([
            ("PATH".to_string(), "/bin".to_string()),
            ("SECRET_X".to_string(), "s".to_string()),
        ]);
        let cfg = ExecConfig {
            env_denylist: vec!["SECRET_*".into()],
            env_custom: vec!["A=1".into()],
            ..ExecConfig::default()
        };
        let env = child_env(&cfg, &base, &[("CONSUL_HTTP_ADDR".into(), "x".into())]);
        assert!(env.iter().any(|(k, _)| k == "PATH"));
        assert!(!env.iter().any(|(k, _)| k == "SECRET_X"));
        assert!(
            env.contains(&("A".into(), "1".into()))
                && env.iter().any(|(k, _)| k == "CONSUL_HTTP_ADDR")
        );
        let pristine = ExecConfig {
            env_pristine: true,
            ..ExecConfig::default()
        };
        assert!(child_env(&pristine, &base, &[]).is_empty());
    }
}
