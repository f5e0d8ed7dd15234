//! Which language a template is written in: Go's text/template (what
//! consul-template reads) or tera.
//!
//! The rule, in order:
//! 1. `syntax = "go"` or `syntax = "tera"` in the template block wins;
//! 2. custom delimiters (`left_delimiter`, `-default-left-delimiter`) mean Go;
//! 3. the source's extension: `.ctmpl`, `.gotmpl`, `.tpl` are Go; `.tera`,
//!    `.j2`, `.jinja`, `.jinja2` are tera;
//! 4. the text: a `{% %}` tag, a `{# #}` comment or a call with
//!    parentheses (`key(path="x")`, `datacenters()`: Go rejects both) is tera; anything else is Go, since
//!    templater is consul-template's drop-in.

use std::path::Path;
use std::sync::LazyLock;

/// A template language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Go's text/template, with consul-template's functions.
    Go,
    /// tera, with templater's functions.
    Tera,
}

impl Syntax {
    /// Parses a `syntax` setting.
    pub fn parse(s: &str) -> Option<Syntax> {
        match s.to_ascii_lowercase().as_str() {
            "go" | "gotemplate" | "consul-template" => Some(Syntax::Go),
            "tera" | "jinja" => Some(Syntax::Tera),
            _ => None,
        }
    }

    /// The name users write.
    pub fn name(self) -> &'static str {
        match self {
            Syntax::Go => "go",
            Syntax::Tera => "tera",
        }
    }
}

/// The syntax of a template whose source is `source` (if a file), with
/// this text, absent an explicit setting.
pub fn detect(source: Option<&Path>, custom_delims: bool, text: &str) -> Syntax {
    if custom_delims {
        return Syntax::Go;
    }
    let ext = source
        .and_then(|p| p.extension())
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("ctmpl" | "gotmpl" | "tpl") => return Syntax::Go,
        Some("tera" | "j2" | "jinja" | "jinja2") => return Syntax::Tera,
        _ => {}
    }
    if looks_like_tera(text) {
        Syntax::Tera
    } else {
        Syntax::Go
    }
}

/// Whether the text has tera's marks: `{% %}`, `{# #}`, or a call with
/// parentheses inside `{{ }}` (`key(path="x")`, `datacenters()`), which Go's
/// text/template rejects ("unexpected \"(\" in operand"). Quoted strings
/// are ignored, so `{{ printf "f(x)" }}` stays Go.
pub fn looks_like_tera(text: &str) -> bool {
    static ACTION: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"\{\{([^}]*)\}\}").ok());
    static STRING: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r#""(?:[^"\\]|\\.)*"|`[^`]*`|'(?:[^'\\]|\\.)*'"#).ok());
    static CALL: LazyLock<Option<regex::Regex>> =
        LazyLock::new(|| regex::Regex::new(r"(?:^|[^\w.$])[A-Za-z_]\w*\(").ok());
    if text.contains("{%") || text.contains("{#") {
        return true;
    }
    let (Some(action), Some(string), Some(call)) = (&*ACTION, &*STRING, &*CALL) else {
        return false;
    };
    action.captures_iter(text).any(|c| {
        let inner = c.get(1).map_or("", |m| m.as_str());
        call.is_match(&string.replace_all(inner, "\"\""))
    })
}

/// Whether the text has Go template marks that tera has not: `{{ end }}`,
/// `{{ range`, `{{ if`, `{{ with`, `{{ .Field`, `{{ $var`, trim markers.
pub fn looks_like_go(text: &str) -> bool {
    let re = regex::Regex::new(
        r"\{\{-?\s*(end|range|if|else|with|define|template|block)\b|\{\{-?\s*[.$]|\{\{- |\s-\}\}",
    )
    .ok();
    re.is_some_and(|re| re.is_match(text))
}

/// A hint for a template that failed to parse as `tried`: which syntax it
/// looks like and how to say so.
pub fn hint(tried: Syntax, text: &str) -> Option<String> {
    match tried {
        Syntax::Go if looks_like_tera(text) => Some(
            "it looks like a tera template ({% %} tags or calls like name(...)): \
             set syntax = \"tera\" in its template block or name it .tera"
                .into(),
        ),
        Syntax::Tera if looks_like_go(text) => Some(
            "it looks like a Go (consul-template) template ({{ end }}, {{ range }}, .Field): \
             set syntax = \"go\" in its template block or name it .ctmpl"
                .into(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_in_order() {
        let go = r#"{{ range service "web" }}{{ .Address }}{{ end }}"#;
        let tera = r#"{% for s in service(name="web") %}{{ s.Address }}{% endfor %}"#;
        assert_eq!(detect(None, false, go), Syntax::Go);
        assert_eq!(detect(None, false, tera), Syntax::Tera);
        assert_eq!(detect(None, false, r#"{{ key(path="x") }}"#), Syntax::Tera);
        assert_eq!(detect(None, false, r#"{{ key "x" }}"#), Syntax::Go);
        assert_eq!(detect(None, false, "plain"), Syntax::Go);
        assert_eq!(
            detect(None, false, "{{ datacenters() | length }}"),
            Syntax::Tera
        );
        assert_eq!(detect(None, false, r#"{{ printf "f(x)" 1 }}"#), Syntax::Go);
        assert_eq!(detect(None, false, "{{ print (len .X) }}"), Syntax::Go);
        assert_eq!(detect(Some(Path::new("a.ctmpl")), false, tera), Syntax::Go);
        assert_eq!(detect(Some(Path::new("a.tera")), false, go), Syntax::Tera);
        assert_eq!(detect(None, true, tera), Syntax::Go);
        assert_eq!(Syntax::parse("Go"), Some(Syntax::Go));
        assert_eq!(Syntax::parse("x"), None);
    }

    #[test]
    fn hints_name_the_other_syntax() {
        assert!(hint(Syntax::Tera, "{{ range .X }}{{ end }}")
            .unwrap()
            .contains("syntax = \"go\""));
        assert!(hint(Syntax::Go, "{% if x %}{% endif %}")
            .unwrap()
            .contains("syntax = \"tera\""));
        assert_eq!(hint(Syntax::Go, "{{ oops"), None);
    }
}
