//! Reading config files: HCL (with consul-template's HCL1 forms) and JSON,
//! block by block, every error with its file, line and fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use super::{Config, ExecConfig, TemplateConfig, Wait};
use crate::error::{Error, Result};

/// The 1-based line of the first occurrence of `needle` in `text`, or 1.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map(|i| text[..i].matches('\n').count() + 1)
        .unwrap_or(1)
}

/// Reads a config file (HCL or JSON) into a JSON value.
fn read_value(path: &Path) -> Result<(Value, String)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(format!("{}: cannot read: {e}", path.display())))?;
    let json = path.extension().is_some_and(|e| e == "json") || text.trim_start().starts_with('{');
    let value = if json {
        serde_json::from_str(&text).map_err(|e| {
            Error::config(format!(
                "{}:{}:{}: invalid JSON: {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        })?
    } else {
        match hcl::from_str::<Value>(&text) {
            Ok(v) => v,
            // HCL 1 (consul-template's) allows `wait { min = "5s" max = "10s" }` on one line.
            Err(e) => hcl::from_str::<Value>(&hcl1_compat(&text))
                .map_err(|_| Error::config(format!("{}: invalid HCL: {e}", path.display())))?,
        }
    };
    Ok((value, text))
}

/// Puts each attribute of a one-line HCL 1 block on its own line.
fn hcl1_compat(text: &str) -> String {
    let re = regex::Regex::new(
        r#"("[^"\n]*"|\b\d+\b|\btrue\b|\bfalse\b|\])\s*,?\s+([A-Za-z_][A-Za-z0-9_]*\s*=)"#,
    );
    let braces = regex::Regex::new(r"\{\s*([A-Za-z_][A-Za-z0-9_]*\s*=)");
    match (re, braces) {
        (Ok(re), Ok(braces)) => {
            let t = braces.replace_all(text, "{\n$1");
            let t = re.replace_all(&t, "$1\n$2");
            t.replace(" }", "\n}")
        }
        _ => text.to_string(),
    }
}

/// Every config file a `-config` path names: the file, or the files of a directory (recursively, sorted).
fn expand(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::config(format!("-config {}: {e}", path.display())))?;
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Error::config(format!("-config {}: {e}", path.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            expand(&e, out)?;
        } else if e.extension().is_some_and(|x| x == "hcl" || x == "json") {
            out.push(e);
        }
    }
    Ok(())
}

impl Config {
    /// Reads and merges the config files (left to right).
    pub fn from_files(paths: &[PathBuf]) -> Result<Config> {
        let mut cfg = Config::default();
        let mut files = Vec::new();
        for p in paths {
            expand(p, &mut files)?;
        }
        for f in &files {
            let (value, text) = read_value(f)?;
            let ctx = Ctx {
                file: f,
                text: &text,
            };
            cfg.apply(&value, &ctx)?;
        }
        cfg.files = files;
        Ok(cfg)
    }

    fn apply(&mut self, v: &Value, ctx: &Ctx<'_>) -> Result<()> {
        let obj = ctx.object(v, "the top level")?;
        for (k, val) in obj {
            match k.as_str() {
                "consul" => self.apply_consul(val, ctx)?,
                "template" => {
                    for t in ctx.blocks(val) {
                        self.templates.push(ctx.template(t)?);
                    }
                }
                "wait" => self.wait = Some(ctx.wait(val, "wait")?),
                "exec" => self.exec = Some(ctx.exec(val)?),
                "reload_signal" => self.reload_signal = ctx.opt_str(val, k)?,
                "kill_signal" => self.kill_signal = ctx.opt_str(val, k)?,
                "max_stale" => self.max_stale = ctx.duration(val, k)?,
                "block_query_wait" => self.block_query_wait = ctx.duration(val, k)?,
                "log_level" => self.log_level = Some(ctx.string(val, k)?),
                "pid_file" => self.pid_file = Some(ctx.string(val, k)?.into()),
                "once" => self.once = ctx.boolean(val, k)?,
                "template_error_fatal" => self.template_error_fatal = Some(ctx.boolean(val, k)?),
                "status_addr" => self.status_addr = Some(ctx.string(val, k)?),
                "default_delimiters" => {
                    for (dk, dv) in ctx.object(val, "default_delimiters")? {
                        match dk.as_str() {
                            "left" => self.default_delimiters.0 = ctx.opt_str(dv, dk)?,
                            "right" => self.default_delimiters.1 = ctx.opt_str(dv, dk)?,
                            other => {
                                return Err(ctx.error(
                                    other,
                                    &format!("unknown key `default_delimiters.{other}`: use left and right"),
                                ))
                            }
                        }
                    }
                }
                "syslog" | "log_file" | "err_on_failed_lookup" => {
                    tracing::warn!(file = %ctx.file.display(), key = %k, "ignored: templater logs to stderr through RUST_LOG")
                }
                "vault" | "nomad" | "deduplicate" => {
                    return Err(ctx.error(k, &format!("`{k}` is not supported: templater renders Consul data only; remove the block")))
                }
                other => return Err(ctx.error(other, &format!("unknown key `{other}`"))),
            }
        }
        Ok(())
    }

    fn apply_consul(&mut self, v: &Value, ctx: &Ctx<'_>) -> Result<()> {
        if let Value::String(addr) = v {
            self.consul.address = Some(addr.clone());
            return Ok(());
        }
        let c = &mut self.consul;
        for (k, val) in ctx.object(v, "consul")? {
            match k.as_str() {
                "address" => c.address = Some(ctx.string(val, k)?),
                "token" => c.token = Some(ctx.string(val, k)?),
                "token_file" => c.token_file = Some(ctx.string(val, k)?.into()),
                "namespace" => {}
                "auth" => {
                    let o = ctx.object(val, "consul.auth")?;
                    let user = o
                        .get("username")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let pass = o.get("password").and_then(Value::as_str);
                    if o.get("enabled").and_then(Value::as_bool) != Some(false) && !user.is_empty()
                    {
                        c.auth = Some(match pass {
                            Some(p) => format!("{user}:{p}"),
                            None => user.to_string(),
                        });
                    }
                }
                "ssl" => {
                    for (sk, sv) in ctx.object(val, "consul.ssl")? {
                        match sk.as_str() {
                            "enabled" => c.ssl = Some(ctx.boolean(sv, sk)?),
                            "verify" => c.ssl_verify = Some(ctx.boolean(sv, sk)?),
                            "cert" => c.ssl_cert = Some(ctx.string(sv, sk)?.into()),
                            "key" => c.ssl_key = Some(ctx.string(sv, sk)?.into()),
                            "ca_cert" => c.ssl_ca_cert = Some(ctx.string(sv, sk)?.into()),
                            "ca_path" => c.ssl_ca_path = Some(ctx.string(sv, sk)?.into()),
                            "server_name" => c.ssl_server_name = Some(ctx.string(sv, sk)?),
                            other => {
                                return Err(
                                    ctx.error(other, &format!("unknown key `consul.ssl.{other}`"))
                                )
                            }
                        }
                    }
                    if c.ssl.is_none() {
                        c.ssl = Some(true);
                    }
                }
                "retry" => {
                    for (rk, rv) in ctx.object(val, "consul.retry")? {
                        match rk.as_str() {
                            "enabled" => {}
                            "attempts" => c.retry_attempts = Some(ctx.number(rv, rk)? as u32),
                            "backoff" => c.retry_backoff = Some(ctx.duration(rv, rk)?),
                            "max_backoff" => c.retry_max_backoff = Some(ctx.duration(rv, rk)?),
                            other => {
                                return Err(ctx
                                    .error(other, &format!("unknown key `consul.retry.{other}`")))
                            }
                        }
                    }
                }
                "transport" => {}
                other => return Err(ctx.error(other, &format!("unknown key `consul.{other}`"))),
            }
        }
        Ok(())
    }

    /// The dcy client configuration: `CONSUL_*` environment under these settings.
    pub fn client_config(&self) -> Result<dcy::Config> {
        let c = &self.consul;
        let path = |p: &Option<PathBuf>| p.clone();
        let mut env: std::collections::HashMap<String, String> = std::env::vars().collect();
        // consul-template's legacy aliases.
        if let Some(t) = env.get("CONSUL_TOKEN").cloned() {
            env.entry("CONSUL_HTTP_TOKEN".into()).or_insert(t);
        }
        if let Some(t) = env.get("CONSUL_TOKEN_FILE").cloned() {
            env.entry("CONSUL_HTTP_TOKEN_FILE".into()).or_insert(t);
        }
        let mut set = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                env.insert(k.to_string(), v);
            }
        };
        set("CONSUL_HTTP_ADDR", c.address.clone());
        set("CONSUL_HTTP_AUTH", c.auth.clone());
        set("CONSUL_HTTP_SSL", c.ssl.map(|b| b.to_string()));
        set(
            "CONSUL_HTTP_SSL_VERIFY",
            c.ssl_verify.map(|b| b.to_string()),
        );
        set(
            "CONSUL_CLIENT_CERT",
            path(&c.ssl_cert).map(|p| p.display().to_string()),
        );
        set(
            "CONSUL_CLIENT_KEY",
            path(&c.ssl_key).map(|p| p.display().to_string()),
        );
        set(
            "CONSUL_CACERT",
            path(&c.ssl_ca_cert).map(|p| p.display().to_string()),
        );
        set(
            "CONSUL_CAPATH",
            path(&c.ssl_ca_path).map(|p| p.display().to_string()),
        );
        set("CONSUL_TLS_SERVER_NAME", c.ssl_server_name.clone());
        if c.token.is_some() {
            env.remove("CONSUL_HTTP_TOKEN_FILE");
            env.insert(
                "CONSUL_HTTP_TOKEN".into(),
                c.token.clone().unwrap_or_default(),
            );
        }
        if let Some(f) = &c.token_file {
            env.insert("CONSUL_HTTP_TOKEN_FILE".into(), f.display().to_string());
        }
        // A client cert holding its key too (consul-template allows it).
        if env.contains_key("CONSUL_CLIENT_CERT") && !env.contains_key("CONSUL_CLIENT_KEY") {
            let cert = env.get("CONSUL_CLIENT_CERT").cloned().unwrap_or_default();
            env.insert("CONSUL_CLIENT_KEY".into(), cert);
        }
        let mut cfg = dcy::Config::from_env_map(&env).map_err(|e| Error::config(e.to_string()))?;
        cfg.watch_wait = self.block_query_wait;
        Ok(cfg)
    }
}

/// Decoding helpers that know where a value came from.
struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn error(&self, key: &str, msg: &str) -> Error {
        Error::config(format!(
            "{}:{}: {msg}",
            self.file.display(),
            line_of(self.text, key)
        ))
    }

    fn object<'v>(&self, v: &'v Value, what: &str) -> Result<&'v Map<String, Value>> {
        v.as_object()
            .ok_or_else(|| self.error(what, &format!("`{what}` must be a block of settings")))
    }

    /// A block written once (object) or several times (array of objects).
    fn blocks<'v>(&self, v: &'v Value) -> Vec<&'v Value> {
        match v {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        }
    }

    fn string(&self, v: &Value, key: &str) -> Result<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(self.error(key, &format!("`{key}` must be a string"))),
        }
    }

    fn opt_str(&self, v: &Value, key: &str) -> Result<Option<String>> {
        let s = self.string(v, key)?;
        Ok((!s.is_empty()).then_some(s))
    }

    fn boolean(&self, v: &Value, key: &str) -> Result<bool> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) => gocompat::parse_bool(s).ok_or_else(|| {
                self.error(key, &format!("`{key}` must be true or false, not {s:?}"))
            }),
            _ => Err(self.error(key, &format!("`{key}` must be true or false"))),
        }
    }

    fn number(&self, v: &Value, key: &str) -> Result<u64> {
        match v {
            Value::Number(n) => n
                .as_u64()
                .ok_or_else(|| self.error(key, &format!("`{key}` must be a whole number"))),
            Value::String(s) => s
                .parse()
                .map_err(|_| self.error(key, &format!("`{key}` must be a whole number"))),
            _ => Err(self.error(key, &format!("`{key}` must be a whole number"))),
        }
    }

    fn duration(&self, v: &Value, key: &str) -> Result<Duration> {
        match v {
            Value::String(s) => {
                gocompat::duration::parse(s).map_err(|e| self.error(key, &format!("`{key}`: {e}")))
            }
            Value::Number(n) => Ok(Duration::from_nanos(n.as_u64().unwrap_or(0))),
            _ => Err(self.error(key, &format!("`{key}` must be a duration such as \"5s\""))),
        }
    }

    fn wait(&self, v: &Value, key: &str) -> Result<Wait> {
        match v {
            Value::String(s) => Wait::parse(s).map_err(|e| self.error(key, &e)),
            Value::Object(o) => {
                let min = o.get("min").map(|m| self.duration(m, "min")).transpose()?;
                let max = o.get("max").map(|m| self.duration(m, "max")).transpose()?;
                for k in o.keys() {
                    if !matches!(k.as_str(), "min" | "max" | "enabled") {
                        return Err(self.error(k, &format!("unknown key `wait.{k}`")));
                    }
                }
                let min = min.ok_or_else(|| self.error(key, "`wait` needs `min`"))?;
                let max = max.unwrap_or(min * 4);
                if min > max {
                    return Err(self.error(key, "`wait`: min is larger than max"));
                }
                Ok(Wait { min, max })
            }
            _ => Err(self.error(key, "`wait` must be \"min:max\" or a block")),
        }
    }

    fn strings(&self, v: &Value, key: &str) -> Result<Vec<String>> {
        match v {
            Value::String(s) => Ok(vec![s.clone()]),
            Value::Array(items) => items.iter().map(|i| self.string(i, key)).collect(),
            _ => Err(self.error(
                key,
                &format!("`{key}` must be a string or a list of strings"),
            )),
        }
    }

    fn perms(&self, v: &Value) -> Result<u32> {
        let digits = match v {
            Value::String(s) => s.trim_start_matches("0o").to_string(),
            Value::Number(n) => n.to_string(),
            _ => {
                return Err(self.error("perms", "`perms` must be an octal string such as \"0644\""))
            }
        };
        u32::from_str_radix(&digits, 8)
            .ok()
            .filter(|p| *p <= 0o7777)
            .ok_or_else(|| {
                self.error(
                    "perms",
                    &format!("`perms` {digits:?} is not an octal mode such as \"0644\""),
                )
            })
    }

    fn template(&self, v: &Value) -> Result<TemplateConfig> {
        let mut t = TemplateConfig {
            command_timeout: Duration::from_secs(30),
            create_dest_dirs: true,
            origin: self.file.display().to_string(),
            ..TemplateConfig::default()
        };
        for (k, val) in self.object(v, "template")? {
            match k.as_str() {
                "source" => t.source = Some(self.string(val, k)?.into()),
                "contents" => t.contents = Some(self.string(val, k)?),
                "destination" => t.destination = Some(self.string(val, k)?.into()),
                "command" => t.command = self.strings(val, k)?,
                "check_command" => t.check_command = self.strings(val, k)?,
                "command_timeout" => t.command_timeout = self.duration(val, k)?,
                "exec" => {
                    for (ek, ev) in self.object(val, "template.exec")? {
                        match ek.as_str() {
                            "command" => t.command = self.strings(ev, ek)?,
                            "timeout" => t.command_timeout = self.duration(ev, ek)?,
                            "enabled" | "env" | "reload_signal" | "kill_signal"
                            | "kill_timeout" | "splay" => {}
                            other => {
                                return Err(self
                                    .error(other, &format!("unknown key `template.exec.{other}`")))
                            }
                        }
                    }
                }
                "perms" => t.perms = Some(self.perms(val)?),
                "backup" => t.backup = self.boolean(val, k)?,
                "create_dest_dirs" => t.create_dest_dirs = self.boolean(val, k)?,
                "error_fatal" => t.error_fatal = Some(self.boolean(val, k)?),
                "wait" => t.wait = Some(self.wait(val, k)?),
                "function_denylist" | "function_blacklist" => {
                    t.function_denylist = self.strings(val, k)?
                }
                "sandbox_path" => t.sandbox_path = Some(self.string(val, k)?.into()),
                "user" | "uid" => t.user = Some(self.string(val, k)?),
                "group" | "gid" => t.group = Some(self.string(val, k)?),
                "error_on_missing_key" => t.error_on_missing_key = self.boolean(val, k)?,
                "left_delimiter" => t.left_delimiter = self.opt_str(val, k)?,
                "right_delimiter" => t.right_delimiter = self.opt_str(val, k)?,
                "syntax" => {
                    let s = self.string(val, k)?;
                    t.syntax = Some(crate::syntax::Syntax::parse(&s).ok_or_else(|| {
                        self.error(
                            k,
                            &format!(
                                "unknown syntax {s:?}: use \"go\" (consul-template's) or \"tera\""
                            ),
                        )
                    })?);
                }
                other => return Err(self.error(other, &format!("unknown key `template.{other}`"))),
            }
        }
        match (&t.source, &t.contents) {
            (Some(_), Some(_)) => {
                return Err(self.error(
                    "template",
                    "a template needs `source` or `contents`, not both",
                ))
            }
            (None, None) => {
                return Err(self.error("template", "a template needs `source` or `contents`"))
            }
            _ => {}
        }
        Ok(t)
    }

    fn exec(&self, v: &Value) -> Result<ExecConfig> {
        let mut e = ExecConfig {
            kill_signal: "SIGINT".into(),
            kill_timeout: Duration::from_secs(30),
            ..ExecConfig::default()
        };
        for (k, val) in self.object(v, "exec")? {
            match k.as_str() {
                "command" => e.command = self.strings(val, k)?,
                "splay" => e.splay = self.duration(val, k)?,
                "reload_signal" => e.reload_signal = self.opt_str(val, k)?,
                "kill_signal" => e.kill_signal = self.string(val, k)?,
                "kill_timeout" => e.kill_timeout = self.duration(val, k)?,
                "enabled" | "timeout" => {}
                "env" => {
                    for (ek, ev) in self.object(val, "exec.env")? {
                        match ek.as_str() {
                            "pristine" => e.env_pristine = self.boolean(ev, ek)?,
                            "custom" => e.env_custom = self.strings(ev, ek)?,
                            "allowlist" | "whitelist" => e.env_allowlist = self.strings(ev, ek)?,
                            "denylist" | "blacklist" => e.env_denylist = self.strings(ev, ek)?,
                            other => {
                                return Err(
                                    self.error(other, &format!("unknown key `exec.env.{other}`"))
                                )
                            }
                        }
                    }
                }
                other => return Err(self.error(other, &format!("unknown key `exec.{other}`"))),
            }
        }
        if e.command.is_empty() {
            return Err(self.error("exec", "`exec` needs a `command`"));
        }
        Ok(e)
    }
}

/// Parses `-template "in:out[:command]"` (a Windows drive letter survives).
pub fn parse_template_flag(s: &str) -> Result<TemplateConfig> {
    let parts: Vec<&str> = s.split(':').collect();
    let (source, rest) = match parts.as_slice() {
        [drive, src, rest @ ..]
            if drive.len() == 1
                && drive.chars().all(|c| c.is_ascii_alphabetic())
                && src.starts_with('\\') =>
        {
            (format!("{drive}:{src}"), rest.to_vec())
        }
        [src, rest @ ..] => ((*src).to_string(), rest.to_vec()),
        [] => (String::new(), Vec::new()),
    };
    if source.is_empty() {
        return Err(Error::config(format!(
            "-template {s:?}: use \"in:out[:command]\""
        )));
    }
    let destination = rest.first().map(|d| PathBuf::from(*d));
    let command = if rest.len() > 1 {
        vec![rest[1..].join(":")]
    } else {
        Vec::new()
    };
    Ok(TemplateConfig {
        source: Some(source.into()),
        destination,
        command,
        command_timeout: Duration::from_secs(30),
        create_dest_dirs: true,
        origin: "-template".into(),
        ..TemplateConfig::default()
    })
}
