//! A depth check of tera sources before tera parses them.
//!
//! tera's parser, renderer and the drop of its syntax tree recurse once per
//! level of nesting: a template a few thousand `{% if %}` deep, a few
//! thousand parentheses deep, or a chain of a few thousand `+` in one
//! expression overflows the stack and aborts the process. So does a macro
//! that calls itself, or a template that includes itself, at render time.
//! [`check`] scans the text without recursion and refuses, with the line,
//! every template that goes deeper than [`MAX_NESTING`], has a recursive
//! macro or includes, extends or imports a template, before tera sees it.

/// The deepest nesting a tera template may have, counted in levels: each
/// block (`if`, `for`, `macro`, `block`, `filter`) inside another is one,
/// each macro call is one plus the levels of the called macro's body, and
/// within one tag the parentheses and brackets plus the operators of its
/// expression are one each (an operator is one more level of tera's syntax
/// tree). Real templates stay well below 20; the deepest template this
/// allows parses and renders on a 2 MiB stack (a tokio worker's) in a debug
/// build, which a test asserts.
pub const MAX_NESTING: usize = 100;

/// Tags that open a block closed by `end<tag>`.
const BLOCKS: &[&str] = &["if", "for", "macro", "block", "filter"];

/// Tags that bring in another template.
const OTHER_TEMPLATES: &[&str] = &["include", "extends", "import"];

/// A template that nests too deep (or recurses): where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooDeep {
    /// 1-based line of the tag at fault.
    pub line: usize,
    /// What is too deep, and the fix.
    pub message: String,
}

impl std::fmt::Display for TooDeep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// The levels of one body (a macro's, or the top level): the deepest tag in
/// it and the macros it calls, each with the levels at the call site.
#[derive(Default)]
struct Body {
    name: String,
    line: usize,
    deepest: usize,
    calls: Vec<(String, usize, usize)>,
}

/// Checks the nesting of a tera source (see [`MAX_NESTING`]), that no
/// macro calls itself, directly or through others, and that it brings in
/// no other template (`include`, `extends`, `import`: a template here is
/// one file, and another one could include it back).
pub fn check(text: &str) -> Result<(), TooDeep> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut line = 1;
    // Open blocks, innermost last; the index (in `bodies`) of the macro
    // whose body is open, if one is.
    let mut open = 0usize;
    let mut in_macro: Option<(usize, usize)> = None; // (body, `open` at its tag)
    let mut bodies = vec![Body::default()];
    while let Some(start) = find(bytes, i, b"{") {
        line += count_newlines(&bytes[i..start]);
        let kind = bytes.get(start + 1).copied();
        let close: &[u8] = match kind {
            Some(b'{') => b"}}",
            Some(b'%') => b"%}",
            Some(b'#') => b"#}",
            _ => {
                i = start + 1;
                continue;
            }
        };
        let Some((end, expr)) = scan_tag(bytes, start + 2, close, kind == Some(b'#')) else {
            // Unterminated: tera reports it as a syntax error.
            return Ok(());
        };
        let tag_line = line;
        let body = &text[start + 2..end];
        line += count_newlines(body.as_bytes());
        i = end + close.len();
        if kind == Some(b'#') {
            continue;
        }
        let (word, rest) = first_word(body);
        let tag = kind == Some(b'%');
        if tag && word == "raw" {
            // Nothing up to `{% endraw %}` is parsed: skip it.
            match find_endraw(text, i) {
                Some((end, after)) => {
                    line += count_newlines(&bytes[i..end]);
                    i = after;
                }
                None => return Ok(()),
            }
            continue;
        }
        if tag && OTHER_TEMPLATES.contains(&word) {
            return Err(TooDeep {
                line: tag_line,
                message: format!(
                    "`{{% {word} %}}` is not supported: each template is one file (put what it shares in a macro of the same file)"
                ),
            });
        }
        let closing = tag
            && word
                .strip_prefix("end")
                .is_some_and(|b| BLOCKS.contains(&b));
        if closing {
            open = open.saturating_sub(1);
            if in_macro.is_some_and(|(_, at)| open == at) {
                in_macro = None;
            }
            continue;
        }
        let opening = tag && BLOCKS.contains(&word);
        if opening {
            open += 1;
            if word == "macro" && in_macro.is_none() {
                bodies.push(Body {
                    name: first_word(rest).0.to_string(),
                    line: tag_line,
                    ..Body::default()
                });
                in_macro = Some((bodies.len() - 1, open - 1));
            }
        }
        // Levels of this tag within its body: the blocks open in it (a
        // macro's own tag is its first level) plus the expression.
        let (b, base) = in_macro.unwrap_or((0, 0));
        let levels = open - base + expr;
        if levels > MAX_NESTING {
            let what = if expr > MAX_NESTING / 2 {
                "an expression (parentheses, brackets and operators in one tag)"
            } else {
                "blocks"
            };
            return Err(TooDeep {
                line: tag_line,
                message: format!(
                    "{what} nested {levels} levels deep, deeper than the limit of {MAX_NESTING}; flatten the template (split an expression with {{% set %}})"
                ),
            });
        }
        let body_levels = &mut bodies[b];
        body_levels.deepest = body_levels.deepest.max(levels);
        for callee in self_calls(body) {
            body_levels.calls.push((callee, levels, tag_line));
        }
    }
    if bodies.len() > 1 {
        macro_levels(&bodies)?;
    }
    Ok(())
}

/// The byte ranges of the bodies of the `{{ }}` and `{% %}` tags of a tera
/// source (not comments, nor what `{% raw %}` holds).
pub(crate) fn tags(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(start) = find(bytes, i, b"{") {
        let kind = bytes.get(start + 1).copied();
        let close: &[u8] = match kind {
            Some(b'{') => b"}}",
            Some(b'%') => b"%}",
            Some(b'#') => b"#}",
            _ => {
                i = start + 1;
                continue;
            }
        };
        let Some((end, _)) = scan_tag(bytes, start + 2, close, kind == Some(b'#')) else {
            break;
        };
        i = end + close.len();
        if kind == Some(b'#') {
            continue;
        }
        if kind == Some(b'%') && first_word(&text[start + 2..end]).0 == "raw" {
            match find_endraw(text, i) {
                Some((_, after)) => i = after,
                None => break,
            }
            continue;
        }
        out.push((start + 2, end));
    }
    out
}

/// Refuses recursive macros, and calls whose levels (the call site's plus
/// the called macro's, down the whole chain) exceed [`MAX_NESTING`].
fn macro_levels(bodies: &[Body]) -> Result<(), TooDeep> {
    let names: std::collections::HashMap<&str, usize> = bodies
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, b)| (b.name.as_str(), i))
        .collect();
    let index = |name: &str| names.get(name).copied();
    // Calls as indexes (calls to unknown macros are tera's to report).
    let calls: Vec<Vec<(usize, usize, usize)>> = bodies
        .iter()
        .map(|b| {
            b.calls
                .iter()
                .filter_map(|(n, at, line)| Some((index(n)?, *at, *line)))
                .collect()
        })
        .collect();
    // Levels of each body, callees first: an explicit stack, no recursion.
    // State: 0 unseen, 1 on the stack, 2 done.
    let mut state = vec![0u8; bodies.len()];
    let mut levels = vec![0usize; bodies.len()];
    for root in 0..bodies.len() {
        if state[root] == 2 {
            continue;
        }
        let mut stack = vec![(root, 0usize)];
        state[root] = 1;
        while let Some(&mut (at, ref mut next)) = stack.last_mut() {
            if let Some(&(callee, _, _)) = calls[at].get(*next) {
                *next += 1;
                match state[callee] {
                    0 => {
                        state[callee] = 1;
                        stack.push((callee, 0));
                    }
                    1 => {
                        let from = stack.iter().position(|&(b, _)| b == callee).unwrap_or(0);
                        let through: Vec<&str> = stack[from + 1..]
                            .iter()
                            .map(|&(b, _)| bodies[b].name.as_str())
                            .collect();
                        let via = if through.is_empty() {
                            String::new()
                        } else {
                            format!(" (through {})", through.join(", "))
                        };
                        let m = &bodies[callee];
                        return Err(TooDeep {
                            line: m.line,
                            message: format!(
                                "macro `{}` calls itself{via}: recursive macros have no depth bound and are refused; unroll it or use a loop",
                                m.name
                            ),
                        });
                    }
                    _ => {}
                }
                continue;
            }
            stack.pop();
            state[at] = 2;
            let mut deepest = bodies[at].deepest;
            for &(callee, site, line) in &calls[at] {
                let total = site + levels[callee];
                if total > MAX_NESTING {
                    return Err(TooDeep {
                        line,
                        message: format!(
                            "the call of macro `{}` nests {total} levels deep (blocks and calls inside the macros it calls), deeper than the limit of {MAX_NESTING}; flatten the macros",
                            bodies[callee].name
                        ),
                    });
                }
                deepest = deepest.max(total);
            }
            levels[at] = deepest;
        }
    }
    Ok(())
}

/// Scans a tag body from `from` to its closing delimiter, skipping string
/// literals; returns where the body ends and its expression levels (the
/// deepest bracket plus the number of operators, an upper bound of the
/// depth of its syntax tree). `None`: no closing delimiter.
fn scan_tag(bytes: &[u8], from: usize, close: &[u8], comment: bool) -> Option<(usize, usize)> {
    if comment {
        return find(bytes, from, close).map(|end| (end, 0));
    }
    let (mut depth, mut deepest, mut ops) = (0usize, 0usize, 0usize);
    let mut j = from;
    while j < bytes.len() {
        let c = bytes[j];
        match c {
            b'"' | b'\'' | b'`' => {
                j = bytes[j + 1..].iter().position(|&b| b == c)? + j + 2;
                continue;
            }
            b'(' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' | b']' => depth = depth.saturating_sub(1),
            b'%' | b'}' if bytes[j..].starts_with(close) => return Some((j, deepest + ops)),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'<' | b'>' | b'!' => ops += 1,
            // `==` counts once (`!=`, `<=` and `>=` at their first byte).
            b'=' if !matches!(bytes[j - 1], b'=' | b'!' | b'<' | b'>') => ops += 1,
            b'a'..=b'z' if !is_ident(bytes[j - 1]) => {
                let word_end = bytes[j..]
                    .iter()
                    .position(|&b| !is_ident(b))
                    .map_or(bytes.len(), |p| j + p);
                if matches!(&bytes[j..word_end], b"and" | b"or" | b"in" | b"not" | b"is") {
                    ops += 1;
                }
                j = word_end;
                continue;
            }
            _ => {}
        }
        j += 1;
    }
    None
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

/// The first word of a tag body (after whitespace control) and what follows it.
fn first_word(body: &str) -> (&str, &str) {
    let words = body.trim_start_matches('-').trim_start();
    let len = words
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(words.len());
    words.split_at(len)
}

/// Where `{% endraw %}` (any whitespace control) starts and ends, from `from`.
fn find_endraw(text: &str, from: usize) -> Option<(usize, usize)> {
    let mut at = from;
    while let Some(p) = text.get(at..)?.find("{%") {
        let start = at + p;
        let rest = &text[start + 2..];
        let end = rest.find("%}")?;
        if rest[..end].trim_matches('-').trim() == "endraw" {
            return Some((start, start + 2 + end + 2));
        }
        at = start + 2;
    }
    None
}

/// The `self::name` calls in a tag body (outside string literals).
fn self_calls(body: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_str: Option<char> = None;
    let mut rest = body;
    while let Some(c) = rest.chars().next() {
        match in_str {
            Some(q) if c == q => in_str = None,
            Some(_) => {}
            None if matches!(c, '"' | '\'' | '`') => in_str = Some(c),
            None if rest.starts_with("self::") => {
                let (name, after) = first_word(&rest[6..]);
                out.push(name.to_string());
                rest = after;
                continue;
            }
            None => {}
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests;
