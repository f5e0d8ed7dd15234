//! Reading a directory of definition files (blocking: call it from
//! `spawn_blocking`).

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use crate::definition::{self, Definitions, Problem};

/// What tells a file changed without reading it: modification time and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
}

impl Fingerprint {
    fn of(meta: &std::fs::Metadata) -> Fingerprint {
        Fingerprint {
            modified: meta.modified().ok(),
            len: meta.len(),
        }
    }
}

/// The definition files (`.json`, `.hcl`, not hidden, regular files or links
/// to them) directly in `dir`, by file name.
pub(crate) fn list(dir: &Path) -> io::Result<BTreeMap<String, Fingerprint>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if definition::format_of(&path).is_none() {
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        // Follows symlinks; a file removed meanwhile is simply not listed.
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {
                out.insert(name.to_string(), Fingerprint::of(&meta));
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The outcome of reading one definition file.
#[derive(Debug)]
pub(crate) enum Read {
    /// The file is gone (removed, or renamed away, even while being read).
    Missing,
    /// The file exists and could not be read.
    Failed(io::Error),
    /// The file was read and parsed (perhaps with problems).
    Parsed(Fingerprint, Definitions),
}

/// Reads and parses `path`.
pub(crate) fn read(path: &Path) -> Read {
    let meta = match std::fs::metadata(path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => return Read::Missing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Read::Missing,
        Err(e) => return Read::Failed(e),
    };
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Read::Missing,
        Err(e) => return Read::Failed(e),
    };
    let defs = match String::from_utf8(bytes) {
        Ok(text) => definition::parse(path, &text),
        Err(e) => Definitions {
            services: Vec::new(),
            problems: vec![Problem::error(
                path,
                1,
                format!(
                    "the file is not UTF-8 text (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            )],
        },
    };
    Read::Parsed(Fingerprint::of(&meta), defs)
}

/// Reads `path`; when a file that was `known` is missing, looks again a few
/// times (50 ms apart) before calling it removed, so an editor that deletes
/// and re-creates a file does not make its services flap.
pub(crate) fn read_settled(path: &Path, known: bool) -> Read {
    let mut read = read(path);
    for _ in 0..3 {
        if !known || !matches!(read, Read::Missing) {
            break;
        }
        tracing::debug!(file = %path.display(), "the file vanished while being read: looking again");
        std::thread::sleep(std::time::Duration::from_millis(50));
        read = self::read(path);
    }
    read
}
