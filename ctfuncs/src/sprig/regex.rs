//! The regex functions (`regexMatch`, `regexFindAll`, `regexReplaceAll`,
//! `regexSplit`, ... and their `must` forms), with Go's RE2 syntax and
//! semantics on the `regex` crate:
//!
//! - Go's Perl classes are ASCII (`\d` is `[0-9]`, `\w` `[0-9A-Za-z_]`,
//!   `\s` `[\t\n\f\r ]`, `\b` an ASCII word boundary): translated so;
//! - inside a class `[`, `&`, `~` are literal in Go (set operators in
//!   Rust): escaped; a `{` that starts no repetition is literal;
//! - match iteration, replacement (`$1`, `${name}`) and split follow Go's
//!   loops (an empty match right after a match is skipped).
//!
//! A bad pattern fails with Go's text for the common mistakes (missing or
//! unexpected parenthesis, missing bracket); other syntax errors carry the
//! regex crate's explanation in Go's frame (`error parsing regexp: ...`).

use gotemplate::{FuncError, Value};
use regex::Regex;

use super::conv::{arg_int, arg_str};
use super::{check_len, Reg};

/// Go's `quote` in regexp's messages: backquoted when possible.
fn go_quote(s: &str) -> String {
    let backquotable = !s.contains('`')
        && s.chars()
            .all(|c| c == '\t' || !(c.is_control() || c == '\u{FEFF}'));
    if backquotable {
        format!("`{s}`")
    } else {
        gotemplate::fmt::quote(s)
    }
}

/// Go's `regexp.QuoteMeta`.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Whether `rest` (after a `{`) is a repetition `n}`, `n,}` or `n,m}`.
fn is_repeat(rest: &str) -> bool {
    let Some(end) = rest.find('}') else {
        return false;
    };
    let body = &rest[..end];
    let (a, b) = body.split_once(',').unwrap_or((body, "0"));
    !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit())
}

/// Whether Go accepts `\n` (with `next` after it) as an escape.
fn go_escape_ok(n: char, next: Option<char>) -> bool {
    match n {
        'a' | 'f' | 't' | 'n' | 'r' | 'v' | '0' | 'x' | 'p' | 'P' | 'd' | 'D' | 's' | 'S' | 'w'
        | 'W' | 'b' | 'B' | 'A' | 'z' | 'Q' => true,
        '1'..='7' => next.is_some_and(|c| ('0'..='7').contains(&c)),
        c => c.is_ascii() && !c.is_ascii_alphanumeric(),
    }
}

/// Go's octal escape at `chars` (after the backslash): its code and length.
fn octal(chars: &[char]) -> (u32, usize) {
    let mut code = 0u32;
    let mut used = 0;
    for &c in chars.iter().take(3) {
        match c.to_digit(8) {
            Some(d) => {
                code = code * 8 + d;
                used += 1;
            }
            None => break,
        }
    }
    (code, used)
}

/// The repetition operator at `chars[i..]` (`*`, `+`, `?`, `{n,m}`), with a
/// non-greedy `?` after it: its length in chars.
fn repeat_op(chars: &[char], i: usize) -> Option<usize> {
    let len = match chars.get(i)? {
        '*' | '+' | '?' => 1,
        '{' => {
            let rest: String = chars[i + 1..].iter().collect();
            if !is_repeat(&rest) {
                return None;
            }
            rest[..=rest.find('}')?].chars().count() + 1
        }
        _ => return None,
    };
    Some(if chars.get(i + len) == Some(&'?') {
        len + 1
    } else {
        len
    })
}

/// A Go pattern as a Rust pattern, or Go's error code and its argument.
fn translate(pat: &str) -> Result<String, (String, String)> {
    let chars: Vec<char> = pat.chars().collect();
    let mut out = String::with_capacity(pat.len() + 8);
    let mut depth = 0usize;
    let mut i = 0;
    // Whether the last item can take a repetition (Go: "missing argument").
    let mut operand = false;
    while i < chars.len() {
        let c = chars[i];
        if let Some(n) = repeat_op(&chars, i) {
            let op: String = chars[i..i + n].iter().collect();
            if let Some(body) = op.strip_prefix('{') {
                let body = &body[..body.find('}').unwrap_or(0)];
                let (lo, hi) = body.split_once(',').unwrap_or((body, body));
                let lo: u64 = lo.parse().unwrap_or(u64::MAX);
                let hi: Option<u64> = if hi.is_empty() {
                    None
                } else {
                    hi.parse().ok().or(Some(u64::MAX))
                };
                if lo > 1000 || hi.is_some_and(|h| h > 1000 || h < lo) {
                    let braces = &op[..=op.find('}').unwrap_or(0)];
                    return Err(("invalid repeat count".into(), braces.to_string()));
                }
            }
            if !operand {
                return Err(("missing argument to repetition operator".into(), op));
            }
            if let Some(m) = repeat_op(&chars, i + n) {
                let both: String = chars[i..i + n + m].iter().collect();
                return Err(("invalid nested repetition operator".into(), both));
            }
            out.push_str(&op);
            i += n;
            continue;
        }
        operand = !matches!(c, '(' | '|');
        match c {
            '\\' => {
                let Some(&n) = chars.get(i + 1) else {
                    return Err((
                        "trailing backslash at end of expression".into(),
                        String::new(),
                    ));
                };
                if !go_escape_ok(n, chars.get(i + 2).copied()) {
                    return Err(("invalid escape sequence".into(), format!("\\{n}")));
                }
                i += 2;
                match n {
                    '0'..='7' => {
                        let (code, used) = octal(&chars[i - 1..]);
                        out.push_str(&format!("\\x{{{code:x}}}"));
                        i += used - 1;
                    }
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    's' => out.push_str(r"[\t\n\x0C\r ]"),
                    'S' => out.push_str(r"[^\t\n\x0C\r ]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    'b' => out.push_str(r"(?-u:\b)"),
                    'B' => out.push_str(r"(?-u:\B)"),
                    'Q' => {
                        // \Q...\E: literal text.
                        let mut lit = String::new();
                        while i < chars.len() {
                            if chars[i] == '\\' && chars.get(i + 1) == Some(&'E') {
                                i += 2;
                                break;
                            }
                            lit.push(chars[i]);
                            i += 1;
                        }
                        out.push_str(&regex::escape(&lit));
                    }
                    n => {
                        out.push('\\');
                        out.push(n);
                    }
                }
                continue;
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                // A flag group `(?i)` or a group header `(?i:`, `(?P<name>`.
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == ')' || c == ':' || c == '>')
                    .map_or(chars.len(), |p| i + p);
                let header: String = chars[i..chars.len().min(end + 1)].iter().collect();
                out.push_str(&header);
                if chars.get(end) != Some(&')') {
                    depth += 1;
                }
                i = end + 1;
                continue;
            }
            '(' => {
                depth += 1;
                out.push(c);
            }
            ')' => {
                if depth == 0 {
                    return Err(("unexpected )".into(), pat.to_string()));
                }
                depth -= 1;
                out.push(c);
            }
            '{' => out.push_str(r"\{"),
            '}' => out.push_str(r"\}"),
            '[' => {
                let start = i;
                let mut bad_range = None;
                i = class(&chars, i, &mut out, &mut bad_range).ok_or_else(|| {
                    (
                        "missing closing ]".to_string(),
                        chars[start..].iter().collect(),
                    )
                })?;
                if let Some(r) = bad_range {
                    return Err(("invalid character class range".into(), r));
                }
                continue;
            }
            c => out.push(c),
        }
        i += 1;
    }
    if depth > 0 {
        return Err(("missing closing )".into(), pat.to_string()));
    }
    Ok(out)
}

/// Translates the class starting at `chars[i] == '['`; the index after it.
fn class(
    chars: &[char],
    mut i: usize,
    out: &mut String,
    bad_range: &mut Option<String>,
) -> Option<usize> {
    out.push('[');
    i += 1;
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let c = *chars.get(i)?;
        match c {
            ']' if !first => {
                out.push(']');
                return Some(i + 1);
            }
            ']' => out.push_str(r"\]"),
            '[' if chars.get(i + 1) == Some(&':') => {
                // A POSIX class [:name:] goes through as it is.
                let rest: String = chars[i..].iter().collect();
                match rest.find(":]") {
                    Some(end) if end > 1 => {
                        out.push_str(&rest[..end + 2]);
                        i += rest[..end + 2].chars().count();
                        first = false;
                        continue;
                    }
                    _ => out.push_str(r"\["),
                }
            }
            '[' | '&' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\\' => {
                let n = *chars.get(i + 1)?;
                i += 1;
                match n {
                    'd' => out.push_str("0-9"),
                    'D' => out.push_str("[^0-9]"),
                    's' => out.push_str(r"\t\n\x0C\r "),
                    'S' => out.push_str(r"[^\t\n\x0C\r ]"),
                    'w' => out.push_str("0-9A-Za-z_"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    n => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '-' if out.ends_with('-') => out.push_str(r"\-"),
            '-' if !first => {
                // A range lo-hi of plain characters: Go checks the order.
                if let (Some(&lo), Some(&hi)) = (chars.get(i - 1), chars.get(i + 1)) {
                    let plain = |c: char| !matches!(c, '\\' | '[' | ']');
                    if plain(lo)
                        && plain(hi)
                        && lo > hi
                        && chars.get(i.wrapping_sub(2)) != Some(&'\\')
                    {
                        *bad_range = Some(format!("{lo}-{hi}"));
                    }
                }
                out.push('-');
            }
            c => out.push(c),
        }
        first = false;
        i += 1;
    }
}

/// Go's `regexp.Compile`, with Go's error text.
pub(crate) fn compile(pat: &str) -> Result<Regex, String> {
    let frame = |code: &str, arg: &str| format!("error parsing regexp: {code}: {}", go_quote(arg));
    let translated = translate(pat).map_err(|(code, arg)| frame(&code, &arg))?;
    Regex::new(&translated).map_err(|e| {
        let text = e.to_string();
        let why = text
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("error: "))
            .unwrap_or("invalid pattern")
            .to_string();
        frame(&why, pat)
    })
}

/// Go's `regexp.MustCompile`: its panic message.
fn must_compile(pat: &str) -> Result<Regex, FuncError> {
    compile(pat).map_err(|e| FuncError::Call(format!("regexp: Compile({}): {e}", go_quote(pat))))
}

fn plain(pat: &str) -> Result<Regex, FuncError> {
    compile(pat).map_err(FuncError::Call)
}

/// Go's `allMatches`: at most `n` (all if `n < 0`) match spans.
fn all_matches(re: &Regex, s: &str, n: i64) -> Vec<(usize, usize)> {
    let limit = if n < 0 { usize::MAX } else { n as usize };
    let mut out = Vec::new();
    let mut pos = 0usize;
    let mut prev_end: Option<usize> = None;
    while out.len() < limit && pos <= s.len() {
        let Some(m) = re.find_at(s, pos) else {
            break;
        };
        let mut accept = true;
        if m.end() == pos {
            // An empty match right after the previous one is skipped.
            if Some(m.start()) == prev_end {
                accept = false;
            }
            pos += s[pos..].chars().next().map_or(1, char::len_utf8);
        } else {
            pos = m.end();
        }
        prev_end = Some(m.end());
        if accept {
            out.push((m.start(), m.end()));
        }
    }
    out
}

/// Go's `Regexp.Split`.
fn split(re: &Regex, s: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if !re.as_str().is_empty() && s.is_empty() {
        return vec![String::new()];
    }
    let matches = all_matches(re, s, n);
    let mut out = Vec::new();
    let (mut beg, mut end) = (0, 0);
    for (a, b) in matches {
        if n > 0 && out.len() as i64 == n - 1 {
            break;
        }
        end = a;
        if b != 0 {
            out.push(s[beg..end].to_string());
        }
        beg = b;
    }
    if end != s.len() {
        out.push(s[beg..].to_string());
    }
    out
}

/// Go's `extract`: a `$name` or `${name}` at the start of `t`.
fn extract(t: &str) -> Option<(&str, Option<usize>, &str)> {
    let (brace, body) = match t.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, t),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    let mut rest = &body[end..];
    if brace {
        rest = rest.strip_prefix('}')?;
    }
    let mut num: Option<usize> = Some(0);
    for b in name.bytes() {
        match num {
            Some(v) if b.is_ascii_digit() && v < 100_000_000 => {
                num = Some(v * 10 + usize::from(b - b'0'));
            }
            _ => {
                num = None;
                break;
            }
        }
    }
    if name.starts_with('0') && name.len() > 1 {
        num = None;
    }
    Some((name, num, rest))
}

/// Go's `Regexp.expand` of a replacement template for one match.
fn expand(out: &mut String, template: &str, re: &Regex, caps: &regex::Captures<'_>) {
    let mut t = template;
    while let Some(i) = t.find('$') {
        out.push_str(&t[..i]);
        t = &t[i + 1..];
        if let Some(rest) = t.strip_prefix('$') {
            out.push('$');
            t = rest;
            continue;
        }
        let Some((name, num, rest)) = extract(t) else {
            out.push('$');
            continue;
        };
        t = rest;
        let group = match num {
            Some(n) => caps.get(n),
            None => re
                .capture_names()
                .position(|n| n == Some(name))
                .and_then(|i| caps.get(i)),
        };
        if let Some(g) = group {
            out.push_str(g.as_str());
        }
    }
    out.push_str(t);
}

/// Go's `ReplaceAllString` (`literal`: `ReplaceAllLiteralString`), bounded.
fn replace_all(re: &Regex, src: &str, repl: &str, literal: bool) -> Result<String, FuncError> {
    let mut out = String::new();
    let mut last_end = 0usize;
    let mut search = 0usize;
    while search <= src.len() {
        let Some(caps) = re.captures_at(src, search) else {
            break;
        };
        let Some(m) = caps.get(0) else {
            break;
        };
        out.push_str(&src[last_end..m.start()]);
        if m.end() > last_end || m.start() == 0 {
            if literal {
                out.push_str(repl);
            } else {
                expand(&mut out, repl, re, &caps);
            }
        }
        check_len(out.len() as u128)?;
        last_end = m.end();
        let width = src[search..].chars().next().map_or(1, char::len_utf8);
        if search + width > m.end() {
            search += width;
        } else if search + 1 > m.end() {
            search += 1;
        } else {
            search = m.end();
        }
    }
    out.push_str(&src[last_end..]);
    check_len(out.len() as u128)?;
    Ok(out)
}

fn strings(v: Vec<String>) -> Value {
    Value::strings(v)
}

pub(super) fn install(r: &mut Reg<'_>) {
    r.fixed("regexMatch", 2, |a| {
        let (pat, s) = (arg_str(&a[0])?, arg_str(&a[1])?);
        Ok(Value::Bool(compile(pat).is_ok_and(|re| re.is_match(s))))
    });
    r.fixed("mustRegexMatch", 2, |a| {
        let (pat, s) = (arg_str(&a[0])?, arg_str(&a[1])?);
        Ok(Value::Bool(plain(pat)?.is_match(s)))
    });
    for (name, must) in [("regexFindAll", false), ("mustRegexFindAll", true)] {
        r.fixed(name, 3, move |a| {
            let (pat, s, n) = (arg_str(&a[0])?, arg_str(&a[1])?, arg_int(&a[2])?);
            let re = if must {
                plain(pat)?
            } else {
                must_compile(pat)?
            };
            Ok(strings(
                all_matches(&re, s, n)
                    .into_iter()
                    .map(|(x, y)| s[x..y].to_string())
                    .collect(),
            ))
        });
    }
    for (name, must) in [("regexFind", false), ("mustRegexFind", true)] {
        r.fixed(name, 2, move |a| {
            let (pat, s) = (arg_str(&a[0])?, arg_str(&a[1])?);
            let re = if must {
                plain(pat)?
            } else {
                must_compile(pat)?
            };
            Ok(Value::str(re.find(s).map_or("", |m| m.as_str())))
        });
    }
    for (name, must, literal) in [
        ("regexReplaceAll", false, false),
        ("mustRegexReplaceAll", true, false),
        ("regexReplaceAllLiteral", false, true),
        ("mustRegexReplaceAllLiteral", true, true),
    ] {
        r.fixed(name, 3, move |a| {
            let (pat, s, repl) = (arg_str(&a[0])?, arg_str(&a[1])?, arg_str(&a[2])?);
            let re = if must {
                plain(pat)?
            } else {
                must_compile(pat)?
            };
            Ok(Value::from(replace_all(&re, s, repl, literal)?))
        });
    }
    for (name, must) in [("regexSplit", false), ("mustRegexSplit", true)] {
        r.fixed(name, 3, move |a| {
            let (pat, s, n) = (arg_str(&a[0])?, arg_str(&a[1])?, arg_int(&a[2])?);
            let re = if must {
                plain(pat)?
            } else {
                must_compile(pat)?
            };
            Ok(strings(split(&re, s, n)))
        });
    }
    r.fixed("regexQuoteMeta", 1, |a| {
        Ok(Value::from(quote_meta(arg_str(&a[0])?)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_semantics() {
        let re = compile(r"\d+").unwrap();
        assert!(!re.is_match("٣"));
        let re = compile("a*").unwrap();
        let spans = all_matches(&re, "baaac", -1);
        assert_eq!(spans, [(0, 0), (1, 4), (5, 5)]);
        assert_eq!(replace_all(&re, "baaac", "-", false).unwrap(), "-b-c-");
        assert_eq!(
            split(&compile("a").unwrap(), "banana", -1),
            ["b", "n", "n", ""]
        );
        assert!(compile("[[]").unwrap().is_match("["));
        assert!(compile("a{").unwrap().is_match("a{"));
        assert_eq!(
            compile("(").unwrap_err(),
            "error parsing regexp: missing closing ): `(`"
        );
        assert_eq!(quote_meta("a.b#c"), r"a\.b#c");
    }

    #[test]
    fn odd_patterns_fail_or_compile_without_panic() {
        let pieces = [
            "\\",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            "{2",
            "{2}",
            "{1001}",
            "*",
            "+",
            "?",
            "(?",
            "(?P<",
            "(?i)",
            "[[:",
            "[[:alpha:]",
            "\\Q",
            "\\E",
            "\\1",
            "\\0",
            "\\x",
            "\\p",
            "-",
            "^",
            "$",
            "|",
            "é",
            "a",
            "&&",
            "~~",
            "--",
            ":]",
        ];
        let mut n = 0;
        for a in pieces {
            for b in pieces {
                for c in ["", "a", "]", ")"] {
                    let p = format!("{a}{b}{c}");
                    if let Ok(re) = compile(&p) {
                        let _ = all_matches(&re, "a]é)(", -1);
                        let _ = replace_all(&re, "a]é)(", "$1${x}$", false);
                        let _ = split(&re, "a]é)(", -1);
                    }
                    n += 1;
                }
            }
        }
        assert!(n > 4000);
    }
}
