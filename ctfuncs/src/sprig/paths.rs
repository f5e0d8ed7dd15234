//! Go's `path` (`base`, `dir`, `clean`, `ext`, `isAbs`) and, on Unix,
//! `path/filepath` (`osBase`, `osDir`, ...), which behave the same.

use gotemplate::Value;

use super::conv::arg_str;
use super::Reg;

/// Go's `path.Clean`: the shortest equivalent path, lexically.
pub(crate) fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`.
fn base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    match t.rfind('/') {
        Some(i) => t[i + 1..].to_string(),
        None => t.to_string(),
    }
}

/// Go's `path.Dir`.
fn dir(p: &str) -> String {
    let i = p.rfind('/').map_or(0, |i| i + 1);
    clean(&p[..i])
}

/// Go's `path.Ext`.
fn ext(p: &str) -> &str {
    for (i, c) in p.char_indices().rev() {
        match c {
            '/' => return "",
            '.' => return &p[i..],
            _ => {}
        }
    }
    ""
}

pub(super) fn install(r: &mut Reg<'_>) {
    for name in ["base", "osBase"] {
        r.fixed(name, 1, |a| Ok(Value::from(base(arg_str(&a[0])?))));
    }
    for name in ["dir", "osDir"] {
        r.fixed(name, 1, |a| Ok(Value::from(dir(arg_str(&a[0])?))));
    }
    for name in ["clean", "osClean"] {
        r.fixed(name, 1, |a| Ok(Value::from(clean(arg_str(&a[0])?))));
    }
    for name in ["ext", "osExt"] {
        r.fixed(name, 1, |a| Ok(Value::str(ext(arg_str(&a[0])?))));
    }
    for name in ["isAbs", "osIsAbs"] {
        r.fixed(name, 1, |a| {
            Ok(Value::Bool(arg_str(&a[0])?.starts_with('/')))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_paths() {
        assert_eq!(clean("a//b/./c/.."), "a/b");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(clean("../../a"), "../../a");
        assert_eq!(clean(""), ".");
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(base("///"), "/");
        assert_eq!(dir("/a/b"), "/a");
        assert_eq!(dir("a"), ".");
        assert_eq!(ext("a/b.tar.gz"), ".gz");
        assert_eq!(ext("a.b/c"), "");
    }
}
