//! Writing rendered output: only when the content (or the owner asked for)
//! changed, atomically, and never anything a check rejected.
//!
//! [`stage`] writes the new content into a temporary file beside the
//! destination (`.<name>.<pid>.<random>.tmp`, same directory, with the
//! destination's final mode, owner and group, fsync'd); the check command
//! reads that file; [`Pending::commit`] renames it over the destination (after
//! the optional backup), [`Pending::discard`] removes it. Until the rename,
//! the destination is untouched: a check that fails, a write that fails or
//! a `kill -9` at any moment leaves the old file whole. [`clean_stale`]
//! removes the temporary files a killed templater left behind.
//!
//! A destination that is a symlink is written through: the temporary file
//! goes beside the link's target and replaces it; the link stays a link.
//! Parent directories are created (0755) on demand.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The most symlinks followed from a destination to its file (Linux's limit).
const MAX_SYMLINKS: usize = 40;

/// How to write one destination.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// Destination file (a symlink is written through).
    pub path: PathBuf,
    /// Mode (default: the existing file's, else 0644).
    pub perms: Option<u32>,
    /// Keep the previous file as `<path>.bak`.
    pub backup: bool,
    /// Create missing parent directories (0755).
    pub create_dirs: bool,
    /// Owner, a name or a numeric id (default: keep the existing file's).
    pub user: Option<String>,
    /// Group, a name or a numeric id (default: keep the existing file's).
    pub group: Option<String>,
}

/// What a write did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// The file already held this content (and owner).
    Unchanged,
    /// The file was replaced.
    Changed,
}

/// A staged write: the new content in a temporary file beside the
/// destination, waiting for [`Pending::commit`] or [`Pending::discard`].
#[derive(Debug)]
#[must_use = "a staged write is committed or discarded"]
pub struct Pending {
    tmp: PathBuf,
    /// The file replaced (the symlink's target for a symlinked destination).
    file: PathBuf,
    /// Where the backup goes, when one is wanted and there is an old file.
    backup: Option<PathBuf>,
}

/// What [`stage`] found.
#[derive(Debug)]
pub enum Staged {
    /// The destination already holds this content (and owner).
    Unchanged,
    /// The new content is staged.
    Ready(Pending),
}

impl Pending {
    /// The temporary file holding the new content (what a check reads).
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// The file it replaces (a symlinked destination's target).
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Backs up the old file (when asked) and renames the new one into place.
    pub fn commit(self) -> std::io::Result<()> {
        if let Some(bak) = &self.backup {
            backup(&self.file, bak);
        }
        let renamed = fs::rename(&self.tmp, &self.file);
        if renamed.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        renamed
    }

    /// Removes the temporary file: the destination stays as it was.
    pub fn discard(self) -> std::io::Result<()> {
        fs::remove_file(&self.tmp)
    }
}

/// Writes `content` if it differs from the file (or its owner differs from
/// the one asked for): [`stage`] then [`Pending::commit`].
pub fn write(target: &Target, content: &[u8]) -> std::io::Result<Written> {
    match stage(target, content)? {
        Staged::Unchanged => Ok(Written::Unchanged),
        Staged::Ready(p) => p.commit().map(|()| Written::Changed),
    }
}

/// Stages `content` for `target` in a temporary file beside it, with the
/// final mode and owner, unless the destination already holds it.
pub fn stage(target: &Target, content: &[u8]) -> std::io::Result<Staged> {
    let (file, meta) = resolve_with_metadata(&target.path)?;
    let existing = match meta {
        Some(_) => Some(fs::read(&file)?),
        None => None,
    };
    let uid = target.user.as_deref().map(user_id).transpose()?;
    let gid = target.group.as_deref().map(group_id).transpose()?;
    let owner_ok = meta
        .as_ref()
        .is_some_and(|m| uid.is_none_or(|u| u == m.uid()) && gid.is_none_or(|g| g == m.gid()));
    if existing.as_deref() == Some(content) && owner_ok {
        return Ok(Staged::Unchanged);
    }
    let dir = parent(&file);
    if !dir.exists() {
        if !target.create_dirs {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!(
                    "parent directory {} is missing (set create_dest_dirs = true)",
                    dir.display()
                ),
            ));
        }
        fs::create_dir_all(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755))?;
    }
    let mode = match (target.perms, &meta) {
        (Some(p), _) => p,
        (None, Some(m)) => m.permissions().mode() & 0o7777,
        (None, None) => 0o644,
    };
    // The owner: the one asked for, else the old file's.
    let uid = uid.or(meta.as_ref().map(MetadataExt::uid));
    let gid = gid.or(meta.as_ref().map(MetadataExt::gid));
    let explicit = target.user.is_some() || target.group.is_some();
    let tmp = dir.join(format!(
        "{}{}.{:x}.tmp",
        tmp_prefix(&file_name(&file)),
        std::process::id(),
        fastrand::u64(..)
    ));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(content)?;
        if uid.is_some() || gid.is_some() {
            let m = f.metadata()?;
            if uid.is_some_and(|u| u != m.uid()) || gid.is_some_and(|g| g != m.gid()) {
                match std::os::unix::fs::fchown(&f, uid, gid) {
                    Ok(()) => {}
                    Err(e) if explicit => {
                        return Err(std::io::Error::new(
                            e.kind(),
                            format!(
                                "cannot give the file to user {} group {}: {e}",
                                show(uid),
                                show(gid)
                            ),
                        ))
                    }
                    Err(e) => tracing::warn!(
                        file = %file.display(),
                        error = %e,
                        "cannot keep the owner of the old file (templater is not root?): the new file is templater's"
                    ),
                }
            }
        }
        // After the chown, which clears setuid and setgid bits.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(Staged::Ready(Pending {
        tmp,
        backup: (target.backup && existing.is_some()).then(|| backup_path(&target.path)),
        file,
    }))
}

fn show(id: Option<u32>) -> String {
    id.map_or_else(|| "(unchanged)".into(), |i| i.to_string())
}

/// Hard-links the old file to `bak` (a copy across file systems), keeping
/// exactly one backup: the previous one goes to `.old.bak` meanwhile and is
/// removed once the new backup exists, as consul-template does.
fn backup(file: &Path, bak: &Path) {
    let mut old = bak.as_os_str().to_owned();
    old.push(".old");
    let old = PathBuf::from(old);
    let had = fs::rename(bak, &old).is_ok();
    let made = fs::hard_link(file, bak).or_else(|_| fs::copy(file, bak).map(|_| ()));
    match made {
        Ok(()) if had => {
            let _ = fs::remove_file(&old);
        }
        Ok(()) => {}
        Err(e) => {
            tracing::warn!(backup = %bak.display(), error = %e, "cannot back up the old file");
            if had {
                let _ = fs::rename(&old, bak);
            }
        }
    }
}

/// `<path>.bak`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".bak");
    PathBuf::from(s)
}

/// The file a destination names: itself, or where its symlinks lead.
pub fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    resolve_with_metadata(path).map(|(p, _)| p)
}

/// [`resolve`], with the file's metadata (`None`: it does not exist).
fn resolve_with_metadata(path: &Path) -> std::io::Result<(PathBuf, Option<fs::Metadata>)> {
    let mut p = path.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        match fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let to = fs::read_link(&p)?;
                p = if to.is_absolute() {
                    to
                } else {
                    parent(&p).join(to)
                };
            }
            Ok(m) => return Ok((p, Some(m))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((p, None)),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "{}: more than {MAX_SYMLINKS} symlinks (a loop?)",
        path.display()
    )))
}

fn parent(file: &Path) -> &Path {
    file.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
}

fn file_name(file: &Path) -> String {
    file.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `.<name>.` of the temporary files of `name`, the name cut so that the
/// whole stays within 255 bytes.
fn tmp_prefix(name: &str) -> String {
    let mut cut = name.len().min(200);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(".{}.", &name[..cut])
}

/// Removes the temporary files (`.<name>.<pid>.<hex>.tmp`) that a templater
/// no longer running left beside these destinations (a `kill -9` in the
/// middle of a write or a check). Call it before writing: files with this
/// process's own pid are removed too (a previous process with the same pid,
/// as pid 1 in a container; this one has no write in flight yet); those of
/// another live process are left alone. Each directory is read once.
/// Returns the files removed.
pub fn clean_stale(destinations: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: BTreeMap<PathBuf, BTreeSet<String>> = BTreeMap::new();
    for d in destinations {
        let Ok(file) = resolve(d) else { continue };
        dirs.entry(parent(&file).to_path_buf())
            .or_default()
            .insert(tmp_prefix(&file_name(&file)));
    }
    let me = std::process::id();
    let mut removed = Vec::new();
    for (dir, prefixes) in dirs {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_suffix(".tmp")
                .and_then(|rest| stale_pid(rest, &prefixes))
            else {
                continue;
            };
            if (pid == me || !alive(pid)) && fs::remove_file(e.path()).is_ok() {
                removed.push(e.path());
            }
        }
    }
    removed
}

/// The pid in `.<name>.<pid>.<hex>` when `.<name>.` is one of `prefixes`.
fn stale_pid(rest: &str, prefixes: &BTreeSet<String>) -> Option<u32> {
    let (head, hex) = rest.rsplit_once('.')?;
    let (prefix, pid) = head.rsplit_once('.')?;
    let ok = !hex.is_empty()
        && hex.len() <= 16
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && prefixes.contains(&format!("{prefix}."));
    ok.then(|| pid.parse().ok()).flatten()
}

fn alive(pid: u32) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return false;
    };
    // EPERM: it exists, as another user.
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

fn user_id(s: &str) -> std::io::Result<u32> {
    if let Ok(id) = s.parse() {
        return Ok(id);
    }
    match nix::unistd::User::from_name(s) {
        Ok(Some(u)) => Ok(u.uid.as_raw()),
        Ok(None) => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("user {s:?} does not exist (give a name from /etc/passwd or a numeric id)"),
        )),
        Err(e) => Err(std::io::Error::other(format!("looking up user {s:?}: {e}"))),
    }
}

fn group_id(s: &str) -> std::io::Result<u32> {
    if let Ok(id) = s.parse() {
        return Ok(id);
    }
    match nix::unistd::Group::from_name(s) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("group {s:?} does not exist (give a name from /etc/group or a numeric id)"),
        )),
        Err(e) => Err(std::io::Error::other(format!(
            "looking up group {s:?}: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests;
