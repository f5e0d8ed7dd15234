//! What `/proc` and the system say: sockets, connections, load, file systems.

use super::*;

/// Socket inodes the process holds.
pub(crate) fn socket_inodes(pid: u32) -> Result<BTreeSet<u64>> {
    let dir = format!("/proc/{pid}/fd");
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(&dir).map_err(|e| err(format!("reading {dir}: {e}")))? {
        let Ok(e) = e else { continue };
        if let Ok(target) = std::fs::read_link(e.path()) {
            let t = target.to_string_lossy();
            if let Some(n) = t
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse().ok())
            {
                out.insert(n);
            }
        }
    }
    Ok(out)
}

/// Established TCP connections of `pid` to `port` (any address), or to any port when `None`.
pub(crate) fn established(pid: u32, port: Option<u16>) -> Result<usize> {
    let inodes = socket_inodes(pid)?;
    let mut n = 0;
    for table in ["tcp", "tcp6"] {
        let path = format!("/proc/{pid}/net/{table}");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // sl local rem st tx:rx tr:when retrnsmt uid timeout inode
            let (Some(rem), Some(st), Some(inode)) = (f.get(2), f.get(3), f.get(9)) else {
                continue;
            };
            let rem_port = rem
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            let ours = inode.parse::<u64>().is_ok_and(|i| inodes.contains(&i));
            if *st == "01" && ours && (port.is_none() || rem_port == port) {
                n += 1;
            }
        }
    }
    Ok(n)
}

pub(crate) fn connections(pid: u32, port: u16) -> Result<usize> {
    established(pid, Some(port))
}

pub(crate) fn connections_all(pid: u32) -> Result<usize> {
    established(pid, None)
}

/// The load averages (1/5/15 min).
pub(crate) fn loadavg() -> String {
    bench::loadavg().map_or_else(|e| format!("unknown ({e})"), |l| bench::load_fields(&l, 3))
}

/// The file system type of the mount holding `path`, from `/proc/mounts`.
pub(crate) fn fs_type(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((*f.get(1)?, *f.get(2)?, *f.first()?))
        })
        .filter(|(mnt, _, _)| path.starts_with(mnt))
        .max_by_key(|(mnt, _, _)| mnt.len())
        .map(|(mnt, ty, dev)| format!("{ty} on {dev} at {mnt}"))
        .unwrap_or_else(|| "unknown file system".into())
}

pub(crate) fn commit() -> String {
    if let Ok(c) = std::env::var("BENCH_COMMIT") {
        return c;
    }
    let dir = env!("CARGO_MANIFEST_DIR");
    let head = bench::git_head(dir).unwrap_or_else(|| "unknown".into());
    if bench::git_dirty(dir, ".") == Some(true) {
        format!("{head} + uncommitted changes in templater/")
    } else {
        head
    }
}
