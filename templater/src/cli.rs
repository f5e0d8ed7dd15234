//! The command line: consul-template's flags (one or two dashes), plus
//! `templater check` and `templater convert`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{parse_template_flag, Config, ExecConfig, Wait};
use crate::error::{Error, ErrorKind, Result};

fn go_bool(s: &str) -> std::result::Result<bool, String> {
    gocompat::parse_bool(s).ok_or_else(|| format!("{s:?} is not a boolean: use true or false"))
}

fn go_duration(s: &str) -> std::result::Result<Duration, String> {
    gocompat::duration::parse(s)
}

/// What `--help` adds about template blocks.
const AFTER_HELP: &str = "\
Template blocks (-config) take consul-template's keys, and:
  check_command = \"nginx -t -c {{path}}\"
      validates the new output before it replaces the destination: it runs
      against a temporary file beside the destination (same mode and owner),
      named by {{path}} (quoted for the shell as needed; write it bare) and
      by $TEMPLATER_CHECK_FILE ($TEMPLATER_DESTINATION: the file it replaces).
      Exit 0 renames it into place; anything else leaves the destination as
      it was and runs no command. -once exits 14 on a rejection; the daemon
      goes on with the old file.
  error_fatal = true (the default, as in consul-template)
      a template that fails to render or write exits with code 14, naming
      the template, the line and the problem; false logs it, keeps the last
      good file and renders again on the next change. -template-error-fatal
      (template_error_fatal) overrides every template. A Consul outage is
      never a template error: templater keeps the files and retries.
  user, group: owner of the output (default: the existing file's).
Tera templates may nest blocks, macro calls and expressions at most 100
levels deep.";

/// `templater`: render files from Consul and keep them current.
#[derive(Debug, Parser)]
#[command(name = "templater", version, about, long_about = None, args_conflicts_with_subcommands = true, after_help = AFTER_HELP)]
pub struct Cli {
    /// `check` or `convert`; without one, templater renders.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Rendering options (consul-template's flags).
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate config and templates offline; exit non-zero with the location of each error.
    Check(Box<RunArgs>),
    /// Translate a consul-template `.ctmpl` (Go template) into tera.
    Convert {
        /// The Go template to translate.
        input: PathBuf,
        /// Where to write the tera template (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

/// consul-template's flags.
#[derive(Debug, Default, Args)]
pub struct RunArgs {
    /// Config file or directory (HCL or JSON); repeatable, merged left to right.
    #[arg(long)]
    pub config: Vec<PathBuf>,
    /// `in:out[:command]`; repeatable.
    #[arg(long)]
    pub template: Vec<String>,
    /// Consul agent address (default `CONSUL_HTTP_ADDR`, else 127.0.0.1:8500).
    #[arg(long = "consul-addr")]
    pub consul_addr: Option<String>,
    /// ACL token (default `CONSUL_HTTP_TOKEN` / `CONSUL_TOKEN`).
    #[arg(long = "consul-token")]
    pub consul_token: Option<String>,
    /// File holding the ACL token.
    #[arg(long = "consul-token-file")]
    pub consul_token_file: Option<PathBuf>,
    /// Basic auth `user[:password]`.
    #[arg(long = "consul-auth")]
    pub consul_auth: Option<String>,
    /// Use https.
    #[arg(long = "consul-ssl", num_args = 0..=1, default_missing_value = "true", value_parser = go_bool)]
    pub consul_ssl: Option<bool>,
    /// Verify Consul's certificate.
    #[arg(long = "consul-ssl-verify", num_args = 0..=1, default_missing_value = "true", value_parser = go_bool)]
    pub consul_ssl_verify: Option<bool>,
    /// Client certificate.
    #[arg(long = "consul-ssl-cert")]
    pub consul_ssl_cert: Option<PathBuf>,
    /// Client key.
    #[arg(long = "consul-ssl-key")]
    pub consul_ssl_key: Option<PathBuf>,
    /// CA file.
    #[arg(long = "consul-ssl-ca-cert")]
    pub consul_ssl_ca_cert: Option<PathBuf>,
    /// CA directory.
    #[arg(long = "consul-ssl-ca-path")]
    pub consul_ssl_ca_path: Option<PathBuf>,
    /// Server name to verify.
    #[arg(long = "consul-ssl-server-name")]
    pub consul_ssl_server_name: Option<String>,
    /// Retry failed Consul requests (always on: templater never gives up).
    #[arg(long = "consul-retry", num_args = 0..=1, default_missing_value = "true", value_parser = go_bool)]
    pub consul_retry: Option<bool>,
    /// Attempts before `-once` gives up (the daemon retries forever).
    #[arg(long = "consul-retry-attempts")]
    pub consul_retry_attempts: Option<u32>,
    /// First retry delay.
    #[arg(long = "consul-retry-backoff", value_parser = go_duration)]
    pub consul_retry_backoff: Option<Duration>,
    /// Longest retry delay.
    #[arg(long = "consul-retry-max-backoff", value_parser = go_duration)]
    pub consul_retry_max_backoff: Option<Duration>,
    /// Legacy alias of `-consul-retry-backoff`.
    #[arg(long = "retry", value_parser = go_duration)]
    pub retry: Option<Duration>,
    /// Render once, run the commands and exit.
    #[arg(long)]
    pub once: bool,
    /// Print to stdout instead of writing files; run no commands.
    #[arg(long)]
    pub dry: bool,
    /// Global quiescence `min[:max]`.
    #[arg(long)]
    pub wait: Option<String>,
    /// Supervise this command; reload it when output changes.
    #[arg(long)]
    pub exec: Option<String>,
    /// Signal that stops the exec child.
    #[arg(long = "exec-kill-signal")]
    pub exec_kill_signal: Option<String>,
    /// Time the exec child gets before SIGKILL.
    #[arg(long = "exec-kill-timeout", value_parser = go_duration)]
    pub exec_kill_timeout: Option<Duration>,
    /// Signal sent to the exec child on change (default: restart it).
    #[arg(long = "exec-reload-signal")]
    pub exec_reload_signal: Option<String>,
    /// Random delay before reloading or stopping the exec child.
    #[arg(long = "exec-splay", value_parser = go_duration)]
    pub exec_splay: Option<Duration>,
    /// Do not pass templater's environment to the exec child.
    #[arg(long = "exec-env-pristine")]
    pub exec_env_pristine: bool,
    /// `K=V` for the exec child; repeatable.
    #[arg(long = "exec-env-custom")]
    pub exec_env_custom: Vec<String>,
    /// Only pass variables matching this glob; repeatable.
    #[arg(long = "exec-env-allowlist")]
    pub exec_env_allowlist: Vec<String>,
    /// Never pass variables matching this glob; repeatable.
    #[arg(long = "exec-env-denylist")]
    pub exec_env_denylist: Vec<String>,
    /// Signal that stops templater (SIGINT and SIGTERM always do).
    #[arg(long = "kill-signal")]
    pub kill_signal: Option<String>,
    /// Signal that reloads config and templates (default SIGHUP).
    #[arg(long = "reload-signal")]
    pub reload_signal: Option<String>,
    /// trace, debug, info, warn or err.
    #[arg(long = "log-level", env = "CONSUL_TEMPLATE_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Write the PID here while running.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Allow stale reads up to this (0 for consistent reads).
    #[arg(long = "max-stale", value_parser = go_duration)]
    pub max_stale: Option<Duration>,
    /// Whether a template error (render or write) exits with code 14;
    /// overrides every template's `error_fatal` (default: each template's,
    /// true unless it says `error_fatal = false`).
    #[arg(long = "template-error-fatal", num_args = 0..=1, default_missing_value = "true", value_parser = go_bool)]
    pub template_error_fatal: Option<bool>,
    /// Serve `/health` and `/metrics` here, e.g. 127.0.0.1:9090.
    #[arg(long = "status-addr")]
    pub status_addr: Option<String>,
    /// Default left delimiter of Go templates (`{{`).
    #[arg(long = "default-left-delimiter")]
    pub default_left_delimiter: Option<String>,
    /// Default right delimiter of Go templates (`}}`).
    #[arg(long = "default-right-delimiter")]
    pub default_right_delimiter: Option<String>,
}

/// Flags consul-template has that templater does not, with the reason.
const UNSUPPORTED: &[(&str, &str)] = &[
    ("vault-", "templater renders Consul data only; Vault flags are not supported"),
    ("nomad-", "templater renders Consul data only; Nomad flags are not supported"),
    ("dedup", "de-duplication mode is not supported: one templater makes one blocking query per dependency"),
    ("syslog", "syslog output is not supported: templater logs to stderr (use your supervisor's log capture)"),
    ("log-file", "file logging is not supported: templater logs to stderr"),
    ("log-rotate", "log rotation is not supported: templater logs to stderr"),
    ("parse-only", "use `templater check` to validate templates"),
];

/// Transport tuning flags accepted and ignored (reqwest manages the pool).
const IGNORED: &[&str] = &["consul-transport-"];

/// The command line as clap takes it, and what to warn about once logging
/// is set up (flags accepted and ignored).
#[derive(Debug, Default)]
pub struct Normalized {
    /// The arguments, flags with two dashes.
    pub args: Vec<String>,
    /// Warnings for the log: [`normalize`] runs before any subscriber
    /// exists, so it collects them for the caller to log.
    pub warnings: Vec<String>,
}

/// Go-style arguments to clap's, rejecting consul-template flags templater lacks.
pub fn normalize(args: impl IntoIterator<Item = String>) -> Result<Normalized> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut skip_value = false;
    for a in gocompat::flags::normalize(args) {
        if skip_value {
            skip_value = false;
            continue;
        }
        if let Some(flag) = a.strip_prefix("--") {
            let name = flag.split('=').next().unwrap_or_default();
            if let Some((_, why)) = UNSUPPORTED.iter().find(|(p, _)| name.starts_with(p)) {
                return Err(Error::new(ErrorKind::Flags, format!("-{name}: {why}")));
            }
            if IGNORED.iter().any(|p| name.starts_with(p)) {
                warnings.push(format!(
                    "-{name} ignored: templater tunes its connection pool itself"
                ));
                skip_value = !flag.contains('=') && !name.ends_with("disable-keep-alives");
                continue;
            }
            if name == "v" {
                out.push("--version".into());
                continue;
            }
        }
        out.push(a);
    }
    Ok(Normalized {
        args: out,
        warnings,
    })
}

impl RunArgs {
    /// The configuration: config files, then these flags on top.
    pub fn to_config(&self) -> Result<Config> {
        let mut cfg = Config::from_files(&self.config)?;
        let c = &mut cfg.consul;
        macro_rules! over {
            ($dst:expr, $src:expr) => {
                if let Some(v) = $src.clone() {
                    $dst = Some(v);
                }
            };
        }
        over!(c.address, self.consul_addr);
        over!(c.token, self.consul_token);
        over!(c.token_file, self.consul_token_file);
        over!(c.auth, self.consul_auth);
        over!(c.ssl, self.consul_ssl);
        over!(c.ssl_verify, self.consul_ssl_verify);
        over!(c.ssl_cert, self.consul_ssl_cert);
        over!(c.ssl_key, self.consul_ssl_key);
        over!(c.ssl_ca_cert, self.consul_ssl_ca_cert);
        over!(c.ssl_ca_path, self.consul_ssl_ca_path);
        over!(c.ssl_server_name, self.consul_ssl_server_name);
        over!(c.retry_attempts, self.consul_retry_attempts);
        over!(c.retry_backoff, self.retry);
        over!(c.retry_backoff, self.consul_retry_backoff);
        over!(c.retry_max_backoff, self.consul_retry_max_backoff);
        for t in &self.template {
            cfg.templates.push(parse_template_flag(t)?);
        }
        if let Some(w) = &self.wait {
            cfg.wait = Some(
                Wait::parse(w).map_err(|e| Error::new(ErrorKind::Flags, format!("-wait: {e}")))?,
            );
        }
        if let Some(cmd) = &self.exec {
            let base = cfg.exec.take().unwrap_or(ExecConfig {
                kill_signal: "SIGINT".into(),
                kill_timeout: Duration::from_secs(30),
                ..ExecConfig::default()
            });
            cfg.exec = Some(ExecConfig {
                command: vec![cmd.clone()],
                ..base
            });
        }
        if let Some(e) = cfg.exec.as_mut() {
            over!(e.reload_signal, self.exec_reload_signal);
            if let Some(s) = &self.exec_kill_signal {
                e.kill_signal = s.clone();
            }
            if let Some(t) = self.exec_kill_timeout {
                e.kill_timeout = t;
            }
            if let Some(t) = self.exec_splay {
                e.splay = t;
            }
            e.env_pristine |= self.exec_env_pristine;
            e.env_custom.extend(self.exec_env_custom.iter().cloned());
            e.env_allowlist
                .extend(self.exec_env_allowlist.iter().cloned());
            e.env_denylist
                .extend(self.exec_env_denylist.iter().cloned());
        }
        over!(cfg.kill_signal, self.kill_signal);
        over!(cfg.reload_signal, self.reload_signal);
        over!(cfg.log_level, self.log_level);
        over!(cfg.pid_file, self.pid_file);
        over!(cfg.template_error_fatal, self.template_error_fatal);
        over!(cfg.status_addr, self.status_addr);
        over!(cfg.default_delimiters.0, self.default_left_delimiter);
        over!(cfg.default_delimiters.1, self.default_right_delimiter);
        if let Some(s) = self.max_stale {
            cfg.max_stale = s;
        }
        cfg.once |= self.once;
        cfg.dry |= self.dry;
        if cfg.templates.is_empty() {
            return Err(Error::config(
                "no templates: pass -template \"in:out[:command]\" or a -config file with template blocks",
            ));
        }
        for t in &cfg.templates {
            if t.destination.is_none() && !cfg.dry {
                return Err(Error::config(format!(
                    "template {}: no destination (use -template \"in:out\" or set destination)",
                    t.name()
                )));
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli> {
        let args = normalize(args.iter().map(|s| s.to_string()))?;
        Cli::try_parse_from(args.args).map_err(|e| Error::new(ErrorKind::Flags, e.to_string()))
    }

    #[test]
    fn consul_template_flags_with_one_or_two_dashes() {
        let cli = parse(&[
            "templater",
            "-template",
            "a.tmpl:a.out:nginx -s reload",
            "--template=b:c",
            "-consul-addr=127.0.0.1:1",
            "-once",
            "-wait",
            "1s:5s",
            "-consul-ssl",
            "-max-stale=0s",
            "-consul-transport-dial-timeout",
            "5s",
        ])
        .unwrap();
        let cfg = cli.run.to_config().unwrap();
        assert_eq!(cfg.templates.len(), 2);
        assert!(cfg.once);
        assert_eq!(cfg.consul.address.as_deref(), Some("127.0.0.1:1"));
        assert_eq!(cfg.consul.ssl, Some(true));
        assert_eq!(cfg.wait.unwrap().max, Duration::from_secs(5));
        assert_eq!(cfg.max_stale, Duration::ZERO);
        let cli = parse(&["templater", "-consul-ssl=false", "-template", "a:b"]).unwrap();
        assert_eq!(cli.run.consul_ssl, Some(false));
    }

    #[test]
    fn ignored_flags_are_warnings_for_later() {
        let n = normalize(
            ["templater", "-consul-transport-dial-timeout", "5s", "-once"]
                .iter()
                .map(|s| s.to_string()),
        )
        .unwrap();
        assert_eq!(n.args, ["templater", "--once"]);
        assert_eq!(n.warnings.len(), 1);
        assert!(n.warnings[0].contains("-consul-transport-dial-timeout"));
    }

    #[test]
    fn unsupported_and_unknown_flags_are_named() {
        let e = parse(&["templater", "-vault-addr", "x"]).unwrap_err();
        assert!(
            e.to_string().contains("-vault-addr") && e.exit_code() == 13,
            "{e}"
        );
        let e = parse(&["templater", "-dedup"]).unwrap_err();
        assert!(e.to_string().contains("-dedup"));
        let e = parse(&["templater", "-frobnicate"]).unwrap_err();
        assert!(e.to_string().contains("frobnicate"));
        let e = parse(&["templater"]).unwrap().run.to_config().unwrap_err();
        assert!(e.to_string().contains("no templates") && e.exit_code() == 15);
        assert!(parse(&["templater", "check", "-config", "x"]).is_ok());
        assert!(matches!(
            parse(&["templater", "convert", "in.ctmpl"])
                .unwrap()
                .command,
            Some(Command::Convert { .. })
        ));
    }
}
