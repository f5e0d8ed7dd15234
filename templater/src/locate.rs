//! Template errors as people read them: tera's chain of causes on one
//! line, and render errors with the template's name and line.
//!
//! tera's render errors carry no position, only what failed: a variable,
//! a function, a filter or a test, named inside the message. This finds
//! the tags of the source that use that name and reports their lines, and
//! drops tera's internal template names (`'template 12'`) from the text.

use regex::Regex;

/// A tera error with its chain of causes, on one line.
pub(crate) fn tera_error(e: &tera::Error) -> String {
    let mut s = e.to_string();
    let mut cur = std::error::Error::source(e);
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s.replace('\n', " ")
}

/// `template <name>:<line>: <problem>` for a render error of the template
/// `name` whose source is `text` (`:<line>` left out when the name of what
/// failed is not found in a tag; `(also lines ...)` when it is in several).
pub(crate) fn render_error(name: &str, text: &str, e: &tera::Error) -> String {
    let problem = problem(e);
    match lines(text, e).as_slice() {
        [] => format!("template {name}: {problem}"),
        [one] => format!("template {name}:{one}: {problem}"),
        [first, rest @ ..] => {
            let rest: Vec<String> = rest.iter().map(ToString::to_string).collect();
            format!(
                "template {name}:{first}: {problem} (the same name is on lines {} too)",
                rest.join(", ")
            )
        }
    }
}

/// The messages of the error chain, without tera's wrappers and internal
/// template names.
fn problem(e: &tera::Error) -> String {
    let internal = Regex::new(r" while rendering '[^']*'| in '[^']*'").ok();
    let mut parts = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        let s = c.to_string();
        if !s.starts_with("Failed to render '") {
            let s = match &internal {
                Some(re) => re.replace_all(&s, "").into_owned(),
                None => s,
            };
            parts.push(s.replace('\n', " "));
        }
        cur = c.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.join(": ")
}

/// The lines of the tags that use what failed.
fn lines(text: &str, e: &tera::Error) -> Vec<usize> {
    let Some(pattern) = culprit(e) else {
        return Vec::new();
    };
    let Ok(re) = Regex::new(&pattern) else {
        return Vec::new();
    };
    let mut out: Vec<usize> = Vec::new();
    for (start, end) in crate::runner::nesting::tags(text) {
        for m in re.find_iter(&text[start..end]) {
            let line = text[..start + m.start()].matches('\n').count() + 1;
            if out.last() != Some(&line) {
                out.push(line);
            }
        }
    }
    out.dedup();
    out
}

/// A regex for the uses of what failed, from the innermost tera error that names it.
fn culprit(e: &tera::Error) -> Option<String> {
    let mut found = None;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(t) = c.downcast_ref::<tera::Error>() {
            let word = |n: &str| regex::escape(n);
            let pattern = match &t.kind {
                tera::ErrorKind::CallFunction(n) | tera::ErrorKind::FunctionNotFound(n) => {
                    Some(format!(r"\b{}\s*\(", word(n)))
                }
                tera::ErrorKind::CallFilter(n) | tera::ErrorKind::FilterNotFound(n) => {
                    Some(format!(r"\|\s*{}\b", word(n)))
                }
                tera::ErrorKind::CallTest(n) | tera::ErrorKind::TestNotFound(n) => {
                    Some(format!(r"\bis\s+(not\s+)?{}\b", word(n)))
                }
                tera::ErrorKind::Msg(m) => backticked(m).map(|n| {
                    // A variable or a path into one: as a whole word.
                    format!(r"(^|[^\w.]){}($|[^\w])", word(n))
                }),
                _ => None,
            };
            if pattern.is_some() {
                found = pattern;
            }
        }
        cur = c.source();
    }
    found
}

/// The first `quoted` name in a tera message (`Variable `x` not found`).
fn backticked(m: &str) -> Option<&str> {
    let start = m.find('`')? + 1;
    let len = m[start..].find('`')?;
    let name = &m[start..start + len];
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '"'));
    plain.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fail(text: &str) -> String {
        let mut tera = tera::Tera::default();
        tera.register_filter(
            "parse_json",
            |v: &serde_json::Value, _: &std::collections::HashMap<String, serde_json::Value>| {
                let s = v.as_str().unwrap_or_default();
                serde_json::from_str(s).map_err(|e| tera::Error::msg(format!("not JSON ({e})")))
            },
        );
        tera.add_raw_template("template 3", text).unwrap();
        let e = tera
            .render("template 3", &tera::Context::new())
            .unwrap_err();
        render_error("web.tmpl", text, &e)
    }

    #[test]
    fn render_errors_name_the_template_the_line_and_the_problem() {
        let e = fail("upstream {\n  server {{ undefined_var }};\n}\n");
        assert_eq!(
            e,
            "template web.tmpl:2: Variable `undefined_var` not found in context"
        );
        let e = fail("a\nb\n{{ \"{nope\" | parse_json }}\n");
        assert!(
            e.starts_with("template web.tmpl:3: Filter call 'parse_json' failed: not JSON"),
            "{e}"
        );
        let e = fail("x = 1\n{{ x.y }}\n{% for a in x.y %}{% endfor %}");
        assert!(
            e.starts_with("template web.tmpl:2: ") && e.contains("lines 3 too"),
            "{e}"
        );
        assert!(!e.contains("template 3"), "no internal names: {e}");
        // Text outside tags does not count.
        let e = fail("range(x)\n{{ range(end=\"a\") }}");
        assert!(
            e.starts_with("template web.tmpl:2: Function call 'range' failed"),
            "{e}"
        );
    }
}
