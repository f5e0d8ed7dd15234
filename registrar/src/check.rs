//! `registrar check`: validates definition files offline, without Consul.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::definition::{Definitions, Problem, Severity};
use crate::error::{Error, Result};
use crate::owners;
use crate::scan::{self, Read};

/// What `check` found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// Definition files read.
    pub files: usize,
    /// Valid services (in files without errors, duplicates left out).
    pub services: usize,
    /// Every problem, by file and line.
    pub problems: Vec<Problem>,
}

impl Report {
    /// Number of errors.
    pub fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }

    /// Number of warnings.
    pub fn warnings(&self) -> usize {
        self.problems.len() - self.errors()
    }

    /// One line for the end of the output.
    pub fn summary(&self) -> String {
        format!(
            "{} definition file(s), {} service(s), {} error(s), {} warning(s)",
            self.files,
            self.services,
            self.errors(),
            self.warnings()
        )
    }
}

/// Checks every definition file in directory `path` (or the single file `path`).
pub async fn check(path: &Path) -> Result<Report> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || check_blocking(&path))
        .await
        .map_err(|e| Error::Usage(format!("checking stopped: {e}")))?
}

fn check_blocking(path: &Path) -> Result<Report> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let (dir, names): (PathBuf, Vec<String>) = if meta.is_dir() {
        let listing = scan::list(path).map_err(|e| Error::io(path, e))?;
        (path.to_path_buf(), listing.into_keys().collect())
    } else {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::Usage(format!("{}: not a file name", path.display())))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        (dir, vec![name.to_string()])
    };
    let mut report = Report::default();
    let mut parsed: BTreeMap<String, Definitions> = BTreeMap::new();
    for name in names {
        let file = dir.join(&name);
        match scan::read(&file) {
            Read::Missing => report.problems.push(Problem::error(
                &file,
                1,
                "the file vanished while being read",
            )),
            Read::Failed(e) => {
                report
                    .problems
                    .push(Problem::error(&file, 1, format!("cannot read: {e}")))
            }
            Read::Parsed(_, defs) => {
                report.files += 1;
                report.problems.extend(defs.problems.iter().cloned());
                parsed.insert(name, defs);
            }
        }
    }
    let defs = parsed.iter().flat_map(|(name, d)| {
        d.services
            .iter()
            .map(move |s| (name.as_str(), s.registration.id.as_str(), s.line))
    });
    let resolution = owners::resolve(defs, &BTreeMap::new());
    for dup in &resolution.duplicates {
        report.problems.push(Problem::error(
            &dir.join(&dup.ignored.0),
            dup.ignored.1,
            dup.message(),
        ));
    }
    report.services = resolution.owners.len();
    report
        .problems
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    Ok(report)
}
