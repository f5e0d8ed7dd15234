//! Writing rendered output: only when the content changed, atomically
//! (temporary file in the same directory, fsync, rename), with the mode
//! asked for (or the old file's), an optional backup, and parent
//! directories created on demand. A failed write leaves the old file as it was.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// How to write one destination.
#[derive(Clone, Debug)]
pub struct Target {
    /// Destination file.
    pub path: PathBuf,
    /// Mode (default: the existing file's, else 0644).
    pub perms: Option<u32>,
    /// Keep the previous file as `<path>.bak`.
    pub backup: bool,
    /// Create missing parent directories (0755).
    pub create_dirs: bool,
}

/// What a write did.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// The file already held this content.
    Unchanged,
    /// The file was replaced; it held this before (`None`: it did not exist).
    Changed(Option<Vec<u8>>),
}

/// Writes `content` if it differs from the file.
pub fn write(target: &Target, content: &[u8]) -> std::io::Result<Written> {
    let path = &target.path;
    let existing = match fs::read(path) {
        Ok(old) => Some(old),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    if existing.as_deref() == Some(content) {
        return Ok(Written::Unchanged);
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
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
    let mode = match (target.perms, fs::metadata(path)) {
        (Some(p), _) => p,
        (None, Ok(m)) => m.permissions().mode() & 0o7777,
        (None, Err(_)) => 0o644,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}.{:x}.tmp",
        std::process::id(),
        fastrand::u64(..)
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(content)?;
        f.sync_all()?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
        if target.backup && existing.is_some() {
            let bak = backup_path(path);
            let _ = fs::remove_file(&bak);
            if fs::hard_link(path, &bak).is_err() {
                fs::copy(path, &bak)?;
            }
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| Written::Changed(existing))
}

/// Puts back what a write replaced (after a failed check command).
pub fn restore(target: &Target, previous: Option<&[u8]>) -> std::io::Result<()> {
    match previous {
        Some(old) => write(target, old).map(|_| ()),
        None => fs::remove_file(&target.path),
    }
}

/// `<path>.bak`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".bak");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_only_changes_atomically_with_mode_and_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/out.conf");
        let t = Target {
            path: path.clone(),
            perms: Some(0o600),
            backup: true,
            create_dirs: true,
        };
        assert_eq!(write(&t, b"one").unwrap(), Written::Changed(None));
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            write(&t, b"one").unwrap(),
            Written::Unchanged,
            "unchanged content is not written"
        );
        assert_eq!(
            write(&t, b"two").unwrap(),
            Written::Changed(Some(b"one".to_vec()))
        );
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read(backup_path(&path)).unwrap(), b"one");
        restore(&t, Some(b"one")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let no_dirs = Target {
            path: dir.path().join("missing/x"),
            perms: None,
            backup: false,
            create_dirs: false,
        };
        let e = write(&no_dirs, b"x").unwrap_err();
        assert!(e.to_string().contains("create_dest_dirs"));
    }

    #[test]
    fn an_unwritable_destination_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let t = Target {
            path: path.clone(),
            perms: None,
            backup: false,
            create_dirs: true,
        };
        write(&t, b"old").unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o500)).unwrap();
        let r = write(&t, b"new");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        if nix_is_root() {
            return; // root writes anyway
        }
        assert!(r.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }

    fn nix_is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }
}
