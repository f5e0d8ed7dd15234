//! The helpers that reach outside the template: `plugin` (runs a program)
//! and `writeToFile` (writes a file).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use gotemplate::{FuncError, Funcs, Value};

use crate::{args, Env};

/// Most bytes `plugin` keeps from each of stdout and stderr; a plugin that
/// writes more is stopped and the call fails.
pub const MAX_PLUGIN_OUTPUT: usize = 16 << 20;

pub(super) fn install(funcs: &mut Funcs, env: &Env) {
    let timeout = env.plugin_timeout;
    funcs.add("plugin", 1, None, move |_, a| {
        let name = args::string(&a[0])?;
        let mut argv = Vec::with_capacity(a.len() - 1);
        for v in &a[1..] {
            let s = args::string(v)?.trim();
            if !s.is_empty() {
                argv.push(s.to_string());
            }
        }
        plugin(name, &argv, timeout)
            .map(Value::from)
            .map_err(FuncError::Call)
    });
    let sandbox = env.sandbox.clone();
    funcs.add("writeToFile", 5, None, move |_, a| {
        let mut s = Vec::with_capacity(a.len());
        for v in a {
            s.push(args::string(v)?);
        }
        let flags = if s.len() == 6 { s[4] } else { "" };
        let content = s[s.len() - 1];
        write_to_file(s[0], s[1], s[2], s[3], flags, content, sandbox.as_deref())
            .map(|()| Value::str(""))
            .map_err(FuncError::Call)
    });
}

fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// Reads a pipe to its end, keeping at most `MAX_PLUGIN_OUTPUT` bytes.
fn drain(mut r: impl Read) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => return (kept, false),
            Ok(n) => {
                if kept.len() + n > MAX_PLUGIN_OUTPUT {
                    return (kept, true);
                }
                kept.extend_from_slice(&buf[..n]);
            }
        }
    }
}

fn failure(name: &str, why: &str, out: &[u8], err: &[u8]) -> String {
    format!(
        "exec {}: {why}\n\nstdout:\n\n{}\n\nstderr:\n\n{}",
        gotemplate::fmt::quote(name),
        String::from_utf8_lossy(out),
        String::from_utf8_lossy(err)
    )
}

/// Kills the plugin's whole process group (it runs in one of its own, so
/// that what it started goes too).
fn kill_group(child: &mut std::process::Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// consul-template's `plugin`: runs `name` (no shell) with `args`, and
/// returns its stdout trimmed; a start failure, a non-zero exit, more
/// output than [`MAX_PLUGIN_OUTPUT`] or a run longer than `timeout` is an
/// error that carries stdout and stderr.
pub fn plugin(name: &str, args: &[String], timeout: Duration) -> Result<String, String> {
    if name.is_empty() {
        return Ok(String::new());
    }
    let mut child = Command::new(name)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| {
            failure(
                name,
                &format!("exec: {}: {e}", gotemplate::fmt::quote(name)),
                b"",
                b"",
            )
        })?;
    let (tx, rx) = mpsc::channel();
    for (i, pipe) in [
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
    .enumerate()
    {
        let tx = tx.clone();
        if let Some(p) = pipe {
            std::thread::spawn(move || {
                let _ = tx.send((i, drain(p)));
            });
        } else {
            let _ = tx.send((i, (Vec::new(), false)));
        }
    }
    drop(tx);
    let deadline = Instant::now() + timeout;
    let mut outs: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
    let mut got = 0;
    while got < 2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((i, (bytes, overflow))) => {
                outs[i] = bytes;
                got += 1;
                if overflow {
                    kill_group(&mut child);
                    return Err(failure(
                        name,
                        &format!("wrote more than {MAX_PLUGIN_OUTPUT} bytes"),
                        &outs[0],
                        &outs[1],
                    ));
                }
            }
            Err(_) => {
                kill_group(&mut child);
                return Err(format!(
                    "exec {}: did not finish in {}",
                    gotemplate::fmt::quote(name),
                    go_duration(timeout)
                ));
            }
        }
    }
    // Both pipes are closed: the plugin has exited or is about to.
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            Ok(None) => {
                kill_group(&mut child);
                return Err(format!(
                    "exec {}: did not finish in {}",
                    gotemplate::fmt::quote(name),
                    go_duration(timeout)
                ));
            }
            Err(e) => break Err(e),
        }
    };
    let [out, err] = outs;
    match status {
        Ok(s) if s.success() => Ok(String::from_utf8_lossy(&out).trim().to_string()),
        Ok(s) => {
            use std::os::unix::process::ExitStatusExt;
            let why = match (s.code(), s.signal()) {
                (Some(c), _) => format!("exit status {c}"),
                (None, Some(sig)) => format!("signal: {}", signal_name(sig)),
                _ => s.to_string(),
            };
            Err(failure(name, &why, &out, &err))
        }
        Err(e) => Err(failure(name, &e.to_string(), &out, &err)),
    }
}

fn signal_name(sig: i32) -> String {
    match nix::sys::signal::Signal::try_from(sig) {
        Ok(nix::sys::signal::Signal::SIGKILL) => "killed".into(),
        Ok(nix::sys::signal::Signal::SIGTERM) => "terminated".into(),
        Ok(nix::sys::signal::Signal::SIGSEGV) => "segmentation fault".into(),
        Ok(nix::sys::signal::Signal::SIGABRT) => "aborted".into(),
        Ok(s) => s.as_str().to_string(),
        Err(_) => format!("signal {sig}"),
    }
}

/// `path` made absolute and free of `.` and `..`, without touching the disk.
fn lexical(path: &Path) -> Result<PathBuf, String> {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("writeToFile: current directory: {e}"))?
            .join(path)
    };
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

/// The real path of the deepest ancestor of `p` that exists, joined with
/// what does not exist yet.
fn resolve_existing(p: &Path) -> PathBuf {
    let mut tail = Vec::new();
    let mut cur = p.to_path_buf();
    loop {
        if let Ok(real) = std::fs::canonicalize(&cur) {
            let mut r = real;
            for t in tail.iter().rev() {
                r.push(t);
            }
            return r;
        }
        match (cur.file_name().map(|s| s.to_os_string()), cur.parent()) {
            (Some(name), Some(parent)) => {
                tail.push(name);
                cur = parent.to_path_buf();
            }
            _ => return p.to_path_buf(),
        }
    }
}

fn check_sandbox(path: &Path, sandbox: &Path) -> Result<(), String> {
    let sandbox = std::fs::canonicalize(sandbox).unwrap_or_else(|_| sandbox.to_path_buf());
    let real = resolve_existing(&lexical(path)?);
    if real.starts_with(&sandbox) {
        Ok(())
    } else {
        Err(format!("'{}' is outside of sandbox", path.display()))
    }
}

fn refuse_symlink(p: &Path, what: &str) -> Result<(), String> {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_symlink() => Err(format!(
            "writeToFile: refusing to write through symlinked {what} {}",
            gotemplate::fmt::quote(&p.display().to_string())
        )),
        _ => Ok(()),
    }
}

fn owner(name: &str, user: bool) -> Result<Option<u32>, String> {
    if name.is_empty() {
        return Ok(None);
    }
    let found = if user {
        nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw())
    } else {
        nix::unistd::Group::from_name(name)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw())
    };
    if let Some(id) = found {
        return Ok(Some(id));
    }
    name.parse::<u32>().map(Some).map_err(|_| {
        if user {
            format!("user: unknown user {name}")
        } else {
            format!("group: unknown group {name}")
        }
    })
}

/// consul-template's `writeToFile path user group perms [flags] content`:
/// writes (or with `append` in flags, appends) `content` (and a newline with
/// `newline`), creating the parent directories; refuses a symlinked parent
/// directory or file; sets the owner when `user` or `group` is given, and
/// the mode.
pub fn write_to_file(
    path: &str,
    user: &str,
    group: &str,
    perms: &str,
    flags: &str,
    content: &str,
    sandbox: Option<&Path>,
) -> Result<(), String> {
    let mode = u32::from_str_radix(perms, 8)
        .ok()
        .filter(|m| !perms.is_empty() && !perms.starts_with('+') && *m <= 0o7777)
        .ok_or_else(|| {
            format!(
                "strconv.ParseUint: parsing {}: invalid syntax",
                gotemplate::fmt::quote(perms)
            )
        })?;
    let p = Path::new(path);
    if path.is_empty() {
        return Err("open : no such file or directory".into());
    }
    if let Some(sb) = sandbox {
        check_sandbox(p, sb)?;
    }
    let (uid, gid) = (owner(user, true)?, owner(group, false)?);
    let parent = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    refuse_symlink(parent, "directory")?;
    refuse_symlink(p, "file")?;
    let append = flags.contains("append");
    if !append && std::fs::metadata(parent).is_err() {
        std::fs::create_dir_all(parent).map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
        refuse_symlink(parent, "directory")?;
        if let Some(sb) = sandbox {
            check_sandbox(p, sb)?;
        }
    }
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).mode(mode);
    opts.custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits());
    if append {
        opts.append(true);
    } else {
        opts.truncate(true);
    }
    let mut f: File = opts.open(p).map_err(|e| format!("open {path}: {e}"))?;
    f.write_all(content.as_bytes())
        .map_err(|e| format!("write {path}: {e}"))?;
    if flags.contains("newline") {
        f.write_all(b"\n")
            .map_err(|e| format!("write {path}: {e}"))?;
    }
    if uid.is_some() || gid.is_some() {
        std::os::unix::fs::fchown(&f, uid, gid).map_err(|e| format!("chown {path}: {e}"))?;
    }
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {path}: {e}"))?;
    Ok(())
}
