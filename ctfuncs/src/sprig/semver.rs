//! `semver` and `semverCompare` with Masterminds/semver v3's rules: loose
//! versions (`v1`, `1.2`), constraints with `=`, `!=`, `>`, `<`, `>=`,
//! `<=`, `~`, `~>`, `^`, wildcards (`1.2.x`, `*`), ranges (`1 - 2`), `,` for
//! and, `||` for or, and prereleases matched only by constraints that have one.

use std::cmp::Ordering;
use std::sync::{Arc, OnceLock};

use gotemplate::{FuncError, Object, Value};
use regex::Regex;

use super::conv::arg_str;
use super::Reg;

const CV: &str = r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?";
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

/// The patterns semver compiles once (Go compiles them at init).
struct Patterns {
    version: Regex,
    constraint: Regex,
    range: Regex,
    find: Regex,
    valid: Regex,
}

fn patterns(cell: &OnceLock<Result<Patterns, String>>) -> Result<&Patterns, FuncError> {
    let re = |p: &str| super::regex::compile(p);
    cell.get_or_init(|| {
        Ok(Patterns {
            version: re(r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$")?,
            constraint: re(&format!(r"^\s*({OPS})\s*({CV})\s*$"))?,
            range: re(&format!(r"\s*({CV})\s+-\s+({CV})\s*"))?,
            find: re(&format!(r"({OPS})\s*({CV})"))?,
            valid: re(&format!(
                r"^(\s*({OPS})\s*({CV})\s*)((?:\s+|,\s*)({OPS})\s*({CV})\s*)*$"
            ))?,
        })
    })
    .as_ref()
    .map_err(|e| FuncError::Call(format!("semver's patterns: {e}")))
}

/// A `*semver.Version`.
#[derive(Clone, Debug)]
pub(crate) struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    metadata: String,
    original: String,
}

fn only(s: &str, allowed: impl Fn(u8) -> bool) -> bool {
    s.bytes().all(allowed)
}

fn is_num(c: u8) -> bool {
    c.is_ascii_digit()
}

fn is_allowed(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

fn parse_segment(s: &str) -> Result<u64, String> {
    s.parse::<u64>().map_err(|_| {
        format!(
            "Error parsing version segment: strconv.ParseUint: parsing {}: value out of range",
            gotemplate::fmt::quote(s)
        )
    })
}

impl Version {
    /// semver's `NewVersion`.
    fn parse(p: &Patterns, v: &str) -> Result<Version, String> {
        let m = p
            .version
            .captures(v)
            .ok_or_else(|| "Invalid Semantic Version".to_string())?;
        let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
        let sv = Version {
            major: parse_segment(g(1))?,
            minor: match g(2) {
                "" => 0,
                s => parse_segment(&s[1..])?,
            },
            patch: match g(3) {
                "" => 0,
                s => parse_segment(&s[1..])?,
            },
            pre: g(5).to_string(),
            metadata: g(8).to_string(),
            original: v.to_string(),
        };
        for part in sv.pre.split('.').filter(|_| !sv.pre.is_empty()) {
            if only(part, is_num) {
                if part.len() > 1 && part.starts_with('0') {
                    return Err("Version segment starts with 0".into());
                }
            } else if !only(part, is_allowed) {
                return Err("Invalid Prerelease string".into());
            }
        }
        if !sv.metadata.is_empty() && !sv.metadata.split('.').all(|p| only(p, is_allowed)) {
            return Err("Invalid Metadata string".into());
        }
        Ok(sv)
    }

    fn string(&self) -> String {
        let mut s = format!("{}.{}.{}", self.major, self.minor, self.patch);
        if !self.pre.is_empty() {
            s.push('-');
            s.push_str(&self.pre);
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }

    fn compare(&self, o: &Version) -> Ordering {
        self.major
            .cmp(&o.major)
            .then(self.minor.cmp(&o.minor))
            .then(self.patch.cmp(&o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_pre(&self.pre, &o.pre),
            })
    }
}

fn compare_pre(a: &str, b: &str) -> Ordering {
    let (sa, sb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    for i in 0..sa.len().max(sb.len()) {
        let (x, y) = (
            sa.get(i).copied().unwrap_or(""),
            sb.get(i).copied().unwrap_or(""),
        );
        let d = compare_pre_part(x, y);
        if d != Ordering::Equal {
            return d;
        }
    }
    Ordering::Equal
}

fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(a), Ok(b)) => {
            if a > b {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

struct Constraint {
    con: Version,
    op: String,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "X" | "*")
}

fn parse_constraint(p: &Patterns, c: &str) -> Result<Constraint, String> {
    if c.is_empty() {
        return Ok(Constraint {
            con: Version::parse(p, "0.0.0").map_err(|_| "constraint Parser Error".to_string())?,
            op: String::new(),
            minor_dirty: false,
            patch_dirty: false,
            dirty: true,
        });
    }
    let m = p
        .constraint
        .captures(c)
        .ok_or_else(|| format!("improper constraint: {c}"))?;
    let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
    let (mut ver, mut minor_dirty, mut patch_dirty, mut dirty) =
        (g(2).to_string(), false, false, false);
    if is_x(g(3)) || g(3).is_empty() {
        ver = format!("0.0.0{}", g(6));
        dirty = true;
    } else if is_x(g(4).trim_start_matches('.')) || g(4).is_empty() {
        minor_dirty = true;
        dirty = true;
        ver = format!("{}.0.0{}", g(3), g(6));
    } else if is_x(g(5).trim_start_matches('.')) || g(5).is_empty() {
        dirty = true;
        patch_dirty = true;
        ver = format!("{}{}.0{}", g(3), g(4), g(6));
    }
    let con = Version::parse(p, &ver).map_err(|_| "constraint Parser Error".to_string())?;
    Ok(Constraint {
        con,
        op: g(1).to_string(),
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

impl Constraint {
    fn check(&self, v: &Version) -> bool {
        let c = &self.con;
        let pre_blocked = !v.pre.is_empty() && c.pre.is_empty();
        let tilde = |v: &Version| {
            if pre_blocked || v.compare(c) == Ordering::Less {
                return false;
            }
            if c.major == 0
                && c.minor == 0
                && c.patch == 0
                && !self.minor_dirty
                && !self.patch_dirty
            {
                return true;
            }
            v.major == c.major && (v.minor == c.minor || self.minor_dirty)
        };
        match self.op.as_str() {
            "" | "=" => {
                if pre_blocked {
                    return false;
                }
                if self.dirty {
                    return tilde(v);
                }
                v.compare(c) == Ordering::Equal
            }
            "!=" => {
                if self.dirty {
                    if pre_blocked {
                        return false;
                    }
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        if !v.pre.is_empty() || !c.pre.is_empty() {
                            return compare_pre(&v.pre, &c.pre) != Ordering::Equal;
                        }
                        return false;
                    }
                }
                v.compare(c) != Ordering::Equal
            }
            ">" => {
                if pre_blocked {
                    return false;
                }
                if !self.dirty {
                    return v.compare(c) == Ordering::Greater;
                }
                if v.major > c.major {
                    true
                } else if v.major < c.major || self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    v.compare(c) == Ordering::Greater
                }
            }
            "<" => !pre_blocked && v.compare(c) == Ordering::Less,
            ">=" | "=>" => !pre_blocked && v.compare(c) != Ordering::Less,
            "<=" | "=<" => {
                if pre_blocked {
                    return false;
                }
                if !self.dirty {
                    return v.compare(c) != Ordering::Greater;
                }
                !(v.major > c.major || v.major == c.major && v.minor > c.minor && !self.minor_dirty)
            }
            "~" | "~>" => tilde(v),
            "^" => {
                if pre_blocked || v.compare(c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if c.major == 0 && v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if c.minor == 0 && v.minor > 0 {
                    return false;
                }
                c.patch == v.patch
            }
            _ => false,
        }
    }
}

/// semver's `NewConstraint`: alternatives of constraints that must all hold.
fn parse_constraints(p: &Patterns, c: &str) -> Result<Vec<Vec<Constraint>>, String> {
    // rewriteRange: "1 - 2" is ">= 1, <= 2".
    let mut rewritten = c.to_string();
    for m in p.range.captures_iter(c) {
        let g = |i: usize| m.get(i).map_or("", |x| x.as_str());
        let t = format!(">= {}, <= {}", g(1), g(11));
        rewritten = rewritten.replacen(g(0), &t, 1);
    }
    let mut ors = Vec::new();
    for part in rewritten.split("||") {
        if !p.valid.is_match(part) {
            return Err(format!("improper constraint: {part}"));
        }
        let found: Vec<&str> = p.find.find_iter(part).map(|m| m.as_str()).collect();
        let found = if found.is_empty() { vec![part] } else { found };
        let mut ands = Vec::new();
        for s in found {
            ands.push(parse_constraint(p, s)?);
        }
        ors.push(ands);
    }
    Ok(ors)
}

/// The `*semver.Version` template value.
#[derive(Debug)]
struct VersionValue(Version);

impl Object for VersionValue {
    fn type_name(&self) -> &str {
        "*semver.Version"
    }

    fn call(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        if !args.is_empty() {
            return Some(Err(format!(
                "wrong number of args for {name}: want 0 got {}",
                args.len()
            )));
        }
        let v = &self.0;
        Some(Ok(match name {
            "Major" => Value::Uint(v.major),
            "Minor" => Value::Uint(v.minor),
            "Patch" => Value::Uint(v.patch),
            "Prerelease" => Value::str(&v.pre),
            "Metadata" => Value::str(&v.metadata),
            "Original" => Value::str(&v.original),
            "String" => Value::from(v.string()),
            "MarshalJSON" => Value::from(gotemplate::fmt::quote(&v.string())),
            _ => return None,
        }))
    }

    fn print(&self) -> String {
        self.0.string()
    }
}

pub(super) fn install(r: &mut Reg<'_>) {
    let cell: Arc<OnceLock<Result<Patterns, String>>> = Arc::new(OnceLock::new());
    let c1 = Arc::clone(&cell);
    r.fixed("semver", 1, move |a| {
        let v = Version::parse(patterns(&c1)?, arg_str(&a[0])?).map_err(FuncError::Call)?;
        Ok(Value::Object(Arc::new(VersionValue(v))))
    });
    r.fixed("semverCompare", 2, move |a| {
        let (c, v) = (arg_str(&a[0])?, arg_str(&a[1])?);
        let p = patterns(&cell)?;
        // Go parses the constraint first, then the version.
        let ors = parse_constraints(p, c).map_err(FuncError::Call)?;
        let v = Version::parse(p, v).map_err(FuncError::Call)?;
        Ok(Value::Bool(
            ors.iter().any(|ands| ands.iter().all(|c| c.check(&v))),
        ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile() {
        let cell = OnceLock::new();
        assert!(patterns(&cell).is_ok());
    }
}
