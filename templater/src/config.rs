//! The configuration: consul-template's HCL/JSON config files (the
//! `consul`, `template`, `wait` and `exec` blocks users write), merged left
//! to right, with the command line on top.
//!
//! Unknown keys are an error that names the key, the file and the line, as
//! consul-template's decoder rejects them.

use std::path::PathBuf;
use std::time::Duration;

mod file;
#[cfg(test)]
mod tests;

pub use file::{line_of, parse_template_flag};

/// Quiescence: wait for `min` of calm (at most `max`) before rendering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait {
    /// Calm needed after a change.
    pub min: Duration,
    /// Longest delay after the first change of a burst.
    pub max: Duration,
}

impl Wait {
    /// Parses `5s` (max = 4×min) or `5s:30s`.
    pub fn parse(s: &str) -> std::result::Result<Wait, String> {
        let (min, max) = match s.split_once(':') {
            Some((a, b)) => (
                gocompat::duration::parse(a)?,
                Some(gocompat::duration::parse(b)?),
            ),
            None => (gocompat::duration::parse(s)?, None),
        };
        let max = max.unwrap_or(min * 4);
        if min > max {
            return Err(format!("wait {s:?}: min is larger than max"));
        }
        Ok(Wait { min, max })
    }
}

/// One template.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TemplateConfig {
    /// Template file.
    pub source: Option<PathBuf>,
    /// Inline template text.
    pub contents: Option<String>,
    /// Output file.
    pub destination: Option<PathBuf>,
    /// Command run after the output changed (`sh -c` when it has spaces).
    pub command: Vec<String>,
    /// Command that validates the new output before it replaces the
    /// destination: it runs against a temporary file beside the destination
    /// (same mode and owner), named by `{{path}}` in the command and by
    /// `$TEMPLATER_CHECK_FILE` (e.g. `nginx -t -c {{path}}`); the file is
    /// renamed into place only when the command exits 0. When it fails the
    /// destination stays as it was and `command` does not run.
    pub check_command: Vec<String>,
    /// How long the command may run.
    pub command_timeout: Duration,
    /// File mode of the output (default: keep the existing mode, else 0644).
    pub perms: Option<u32>,
    /// Keep the previous output as `<destination>.bak`.
    pub backup: bool,
    /// Owner of the output, a name or a numeric id (default: keep the existing file's).
    pub user: Option<String>,
    /// Group of the output, a name or a numeric id (default: keep the existing file's).
    pub group: Option<String>,
    /// Create missing parent directories.
    pub create_dest_dirs: bool,
    /// Exit (code 14) when this template fails to render or write (default
    /// true, as in consul-template; false: log, keep the old output and
    /// render again on the next change). `-template-error-fatal` overrides it.
    pub error_fatal: Option<bool>,
    /// Per-template quiescence (overrides the global one).
    pub wait: Option<Wait>,
    /// Functions this template may not call (glob patterns).
    pub function_denylist: Vec<String>,
    /// `file` may only read below this directory.
    pub sandbox_path: Option<PathBuf>,
    /// The template language: Go's text/template (consul-template's) or
    /// tera; `None` decides by the rule of [`crate::syntax`].
    pub syntax: Option<crate::syntax::Syntax>,
    /// Go templates: the left delimiter (default `default_delimiters`, else `{{`).
    pub left_delimiter: Option<String>,
    /// Go templates: the right delimiter (default `default_delimiters`, else `}}`).
    pub right_delimiter: Option<String>,
    /// Go templates: a missing map key is an error (`missingkey=error`)
    /// rather than its zero value.
    pub error_on_missing_key: bool,
    /// Where the definition came from (for messages).
    pub origin: String,
}

impl TemplateConfig {
    /// Whether this template sets its own delimiters or the configuration
    /// sets default ones (a sign of a Go template).
    pub fn custom_delimiters(&self, defaults: &(Option<String>, Option<String>)) -> bool {
        self.left_delimiter.is_some()
            || self.right_delimiter.is_some()
            || defaults.0.is_some()
            || defaults.1.is_some()
    }

    /// The options of this template as a Go template.
    pub fn go_options(&self, defaults: &(Option<String>, Option<String>)) -> gotemplate::Options {
        gotemplate::Options {
            left_delim: self
                .left_delimiter
                .clone()
                .or_else(|| defaults.0.clone())
                .unwrap_or_else(|| "{{".into()),
            right_delim: self
                .right_delimiter
                .clone()
                .or_else(|| defaults.1.clone())
                .unwrap_or_else(|| "}}".into()),
            missing_key: if self.error_on_missing_key {
                gotemplate::MissingKey::Error
            } else {
                gotemplate::MissingKey::Zero
            },
            ..gotemplate::Options::default()
        }
    }

    /// A short name for logs: the source file, else the destination.
    pub fn name(&self) -> String {
        match (&self.source, &self.destination) {
            (Some(s), _) => s.display().to_string(),
            (None, Some(d)) => format!("(inline) -> {}", d.display()),
            (None, None) => "(inline)".into(),
        }
    }
}

/// `-exec` supervision.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ExecConfig {
    /// The command (`sh -c` when it is one string with spaces).
    pub command: Vec<String>,
    /// Random delay before a reload or kill signal.
    pub splay: Duration,
    /// Signal sent on change; `None` restarts the child.
    pub reload_signal: Option<String>,
    /// Signal sent to stop the child (default SIGINT).
    pub kill_signal: String,
    /// Wait before SIGKILL.
    pub kill_timeout: Duration,
    /// Do not pass templater's environment.
    pub env_pristine: bool,
    /// Extra `K=V` entries.
    pub env_custom: Vec<String>,
    /// Only pass variables matching these globs.
    pub env_allowlist: Vec<String>,
    /// Never pass variables matching these globs.
    pub env_denylist: Vec<String>,
}

/// The Consul connection, as the `consul { }` block and `-consul-*` flags set it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConsulConfig {
    /// Agent address.
    pub address: Option<String>,
    /// ACL token.
    pub token: Option<String>,
    /// File with the ACL token.
    pub token_file: Option<PathBuf>,
    /// Basic auth `user[:pass]`.
    pub auth: Option<String>,
    /// Use https.
    pub ssl: Option<bool>,
    /// Verify certificates.
    pub ssl_verify: Option<bool>,
    /// Client certificate.
    pub ssl_cert: Option<PathBuf>,
    /// Client key.
    pub ssl_key: Option<PathBuf>,
    /// CA file.
    pub ssl_ca_cert: Option<PathBuf>,
    /// CA directory.
    pub ssl_ca_path: Option<PathBuf>,
    /// Server name to verify.
    pub ssl_server_name: Option<String>,
    /// First retry delay.
    pub retry_backoff: Option<Duration>,
    /// Longest retry delay.
    pub retry_max_backoff: Option<Duration>,
    /// Attempts before giving up (used by `-once` only: the daemon never gives up).
    pub retry_attempts: Option<u32>,
}

/// The whole configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Consul connection.
    pub consul: ConsulConfig,
    /// Templates.
    pub templates: Vec<TemplateConfig>,
    /// Global quiescence.
    pub wait: Option<Wait>,
    /// Exec mode.
    pub exec: Option<ExecConfig>,
    /// Signal that reloads configuration and templates.
    pub reload_signal: Option<String>,
    /// Signal that stops templater (SIGINT and SIGTERM always do).
    pub kill_signal: Option<String>,
    /// Stale reads allowed up to this (0: consistent).
    pub max_stale: Duration,
    /// `wait` of blocking queries.
    pub block_query_wait: Duration,
    /// Log level.
    pub log_level: Option<String>,
    /// PID file.
    pub pid_file: Option<PathBuf>,
    /// Render once and exit.
    pub once: bool,
    /// Print instead of writing.
    pub dry: bool,
    /// Overrides every template's `error_fatal` (`template_error_fatal`,
    /// `-template-error-fatal`).
    pub template_error_fatal: Option<bool>,
    /// Address of the `/health` and `/metrics` listener.
    pub status_addr: Option<String>,
    /// The config files read (watched for changes).
    pub files: Vec<PathBuf>,
    /// Default delimiters of Go templates (`default_delimiters`,
    /// `-default-left-delimiter`, `-default-right-delimiter`).
    pub default_delimiters: (Option<String>, Option<String>),
}

impl Default for Config {
    fn default() -> Self {
        Config {
            consul: ConsulConfig::default(),
            templates: Vec::new(),
            wait: None,
            exec: None,
            reload_signal: Some("SIGHUP".into()),
            kill_signal: Some("SIGINT".into()),
            max_stale: Duration::from_secs(2),
            block_query_wait: Duration::from_secs(60),
            log_level: None,
            pid_file: None,
            once: false,
            dry: false,
            template_error_fatal: None,
            status_addr: None,
            files: Vec::new(),
            default_delimiters: (None, None),
        }
    }
}
