//! What the workspace's benchmark programs share: errors with a time bound
//! and `main`'s runtime, a `devagent` child process, figures from `/proc`
//! (memory, CPU ticks, load average, the machine), the git commit measured,
//! and the formatting of the Markdown reports.
//!
//! Linux only: the figures come from `/proc`.
#![warn(missing_docs)]

use std::future::Future;
use std::io;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

mod devagent;
pub use devagent::{drain, spawn_devagent, spawn_devagent_with, Devagent};

/// The error of a bench step: any error, or a message made with [`err`].
pub type Error = Box<dyn std::error::Error + Send + Sync>;
/// The result of a bench step.
pub type Result<T> = std::result::Result<T, Error>;

/// An [`Error`] saying `msg`.
pub fn err(msg: impl Into<String>) -> Error {
    msg.into().into()
}

/// Runs `fut` for at most `limit`; the error names `what` if it takes longer.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(limit, fut)
        .await
        .map_err(|_| err(format!("{what}: not done within {limit:?}")))?
}

/// A bench's `main`: runs `fut` on `runtime` (with every driver enabled) and
/// turns its outcome into the exit code, printing an error as
/// `<name> bench: <error>`.
pub fn run_main(
    name: &str,
    mut runtime: tokio::runtime::Builder,
    fut: impl Future<Output = Result<()>>,
) -> ExitCode {
    let runtime = match runtime.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{name} bench: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name} bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes a report to `path`, creating its directory first.
pub fn write_results(path: &Path, text: &str) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| with_path(e, "creating", dir))?;
    }
    std::fs::write(path, text).map_err(|e| with_path(e, "writing", path))
}

/// `e`, its message prefixed with `<what> <path>: `.
fn with_path(e: io::Error, what: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// /proc

fn read(path: &str) -> io::Result<String> {
    std::fs::read_to_string(path).map_err(|e| with_path(e, "reading", Path::new(path)))
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// `/proc/<pid>/<file>`, or `/proc/self/<file>` for `None`.
fn proc_file(pid: Option<u32>, file: &str) -> String {
    match pid {
        Some(p) => format!("/proc/{p}/{file}"),
        None => format!("/proc/self/{file}"),
    }
}

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS`, in KiB: resident now.
    pub rss_kib: u64,
    /// `VmHWM`, in KiB: the most it has been resident.
    pub peak_kib: u64,
}

impl Memory {
    /// The memory of process `pid`, or of this process for `None`.
    pub fn of(pid: Option<u32>) -> io::Result<Memory> {
        let path = proc_file(pid, "status");
        Memory::parse(&read(&path)?).ok_or_else(|| invalid(format!("no VmRSS or VmHWM in {path}")))
    }

    /// The memory given by the text of a `/proc/<pid>/status` file.
    pub fn parse(status: &str) -> Option<Memory> {
        let field = |name: &str| -> Option<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        };
        Some(Memory {
            rss_kib: field("VmRSS")?,
            peak_kib: field("VmHWM")?,
        })
    }
}

/// `kib` KiB in MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The CPU time (utime + stime) of process `pid`, or of this process for
/// `None`, in clock ticks (see [`clk_tck`]).
pub fn cpu_ticks(pid: Option<u32>) -> io::Result<u64> {
    let path = proc_file(pid, "stat");
    let stat = read(&path)?;
    // The command name may hold spaces: the fields start after the last ')',
    // at field 3 (state); utime is field 14, stime field 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, r)| r)
        .split_whitespace()
        .collect();
    let num = |i: usize| fields.get(i - 3).and_then(|v| v.parse::<u64>().ok());
    let ticks = num(14).zip(num(15)).map(|(utime, stime)| utime + stime);
    ticks.ok_or_else(|| invalid(format!("{path}: no utime and stime")))
}

/// Clock ticks per second (`getconf CLK_TCK`; 100, Linux's usual, if it cannot tell).
pub fn clk_tck() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// The soft limit on open files of this process (`u64::MAX` when
/// unlimited); `None` when `/proc/self/limits` does not tell.
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?;
    Some(line.split_whitespace().next()?.parse().unwrap_or(u64::MAX))
}

/// `/proc/loadavg`, trimmed: the 1-, 5- and 15-minute load averages, then
/// the runnable / existing tasks and the last PID.
pub fn loadavg() -> io::Result<String> {
    read("/proc/loadavg").map(|l| l.trim().to_string())
}

/// The first `n` fields of a [`loadavg`] line (`3`: the three averages).
pub fn load_fields(line: &str, n: usize) -> String {
    line.split_whitespace()
        .take(n)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The 1-minute load average as `/proc/loadavg` prints it; `?` if it cannot be read.
pub fn load1() -> String {
    loadavg().map_or_else(|_| "?".to_string(), |l| load_fields(&l, 1))
}

/// `<cores> cores (<CPU model>), Linux <kernel>`: this machine, for a report.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!("{cores} cores ({model}), Linux {kernel}")
}

// ---------------------------------------------------------------------------
// The commit measured

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit checked out at `dir` (`git rev-parse --short HEAD`), if git tells.
pub fn git_head(dir: impl AsRef<Path>) -> Option<String> {
    git(dir.as_ref(), &["rev-parse", "--short", "HEAD"])
}

/// Whether `path` (relative to `dir`) has uncommitted changes, if git tells.
pub fn git_dirty(dir: impl AsRef<Path>, path: &str) -> Option<bool> {
    git(dir.as_ref(), &["status", "--porcelain", "--", path]).map(|s| !s.is_empty())
}

// ---------------------------------------------------------------------------
// Reports

/// The value of the unlabelled metric `name` in Prometheus text (`/metrics`).
pub fn metric(text: &str, name: &str) -> Option<i64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (n, v) = l.split_once(' ')?;
            (n == name).then(|| v.trim().parse::<f64>().ok())?
        })
        .map(|v| v as i64)
}

/// The nearest-rank percentile `p` (0–100) of `v`, in any order; zero if `v` is empty.
pub fn percentile(v: &[Duration], p: usize) -> Duration {
    let mut v = v.to_vec();
    v.sort_unstable();
    if v.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * v.len()).div_ceil(100).clamp(1, v.len());
    v[rank - 1]
}

/// `d` in milliseconds.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `d` in milliseconds with two decimals: `12.35 ms`.
pub fn ms(d: Duration) -> String {
    ms_to(d, 2)
}

/// `d` in milliseconds with `digits` decimals: `ms_to(d, 1)` is `12.3 ms`.
pub fn ms_to(d: Duration, digits: usize) -> String {
    format!("{:.digits$} ms", millis(d))
}

/// `p50 / p99 / max` of `v`, each with `digits` decimals as [`ms_to`] writes them.
pub fn spread(v: &[Duration], digits: usize) -> String {
    let at = |p| ms_to(percentile(v, p), digits);
    format!("{} / {} / {}", at(50), at(99), at(100))
}

/// `yes` for a target met, else `**no**` (bold in Markdown).
pub fn yes_no(met: bool) -> &'static str {
    if met {
        "yes"
    } else {
        "**no**"
    }
}

#[cfg(test)]
mod tests;
