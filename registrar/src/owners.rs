//! Which file owns a service ID when several files define it.
//!
//! Consul has one registration per service ID on an agent. When two files
//! define the same ID, the file that registered it first keeps it and the
//! other one's definition is ignored, with a message naming both; when the
//! owner stops defining it (file edited or removed), the next file in name
//! order takes over. Used by `sync` (with the previous owners) and by `check`
//! (with none, so the first file in name order wins).

use std::collections::BTreeMap;

/// A service ID defined in more than one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// The service ID.
    pub id: String,
    /// The file (and line) whose definition is kept.
    pub kept: (String, usize),
    /// The file (and line) whose definition is ignored.
    pub ignored: (String, usize),
}

/// The owner of every service ID, and the definitions left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Service ID → the file whose definition is used.
    pub owners: BTreeMap<String, String>,
    /// Definitions ignored because another file holds their ID.
    pub duplicates: Vec<Duplicate>,
}

/// Resolves owners over `defs`: `(file, service ID, line)` in file-name
/// order. A file in `previous` keeps the IDs it still defines.
pub fn resolve<'a>(
    defs: impl IntoIterator<Item = (&'a str, &'a str, usize)>,
    previous: &BTreeMap<String, String>,
) -> Resolution {
    let mut candidates: BTreeMap<&str, Vec<(&str, usize)>> = BTreeMap::new();
    for (file, id, line) in defs {
        candidates.entry(id).or_default().push((file, line));
    }
    let mut out = Resolution::default();
    for (id, files) in candidates {
        let kept = previous
            .get(id)
            .and_then(|f| files.iter().position(|(file, _)| file == f))
            .unwrap_or(0);
        let (file, line) = files[kept];
        out.owners.insert(id.to_string(), file.to_string());
        for (i, (other, other_line)) in files.iter().enumerate() {
            if i != kept {
                out.duplicates.push(Duplicate {
                    id: id.to_string(),
                    kept: (file.to_string(), line),
                    ignored: (other.to_string(), *other_line),
                });
            }
        }
    }
    out
}

impl Duplicate {
    /// The message to show, naming both files.
    pub fn message(&self) -> String {
        format!(
            "duplicate service ID `{}`: {}:{} defines it too and registered it first; the definition in {}:{} is ignored (give one of them another `id`)",
            self.id, self.kept.0, self.kept.1, self.ignored.0, self.ignored.1
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_registered_file_keeps_the_id() {
        let defs = [
            ("a.json", "web", 2),
            ("b.json", "web", 3),
            ("b.json", "db", 9),
        ];
        let r = resolve(defs, &BTreeMap::new());
        assert_eq!(r.owners["web"], "a.json");
        assert_eq!(r.owners["db"], "b.json");
        assert_eq!(r.duplicates.len(), 1);
        assert_eq!(r.duplicates[0].ignored, ("b.json".to_string(), 3));
        assert!(r.duplicates[0].message().contains("a.json:2"));

        // b.json registered `web` first: it keeps it although a.json sorts before.
        let prev = BTreeMap::from([("web".to_string(), "b.json".to_string())]);
        let r = resolve(defs, &prev);
        assert_eq!(r.owners["web"], "b.json");
        assert_eq!(r.duplicates[0].ignored.0, "a.json");

        // The owner gone, the other file takes over.
        let r = resolve(
            [("b.json", "web", 3)],
            &BTreeMap::from([("web".into(), "a.json".into())]),
        );
        assert_eq!(r.owners["web"], "b.json");
        assert!(r.duplicates.is_empty());
    }
}
