//! String helpers: `join split splitToMap trim trimPrefix trimSuffix
//! trimSpace replaceAll regexReplaceAll regexMatch toLower toUpper toTitle
//! indent`, with Go's `strings` semantics (simple case mapping, splitting on
//! an empty separator into characters).

use std::collections::BTreeMap;
use std::sync::Arc;

use gotemplate::{FuncError, Funcs, Key, Map, Value, STRING_MAP};
use regex::Regex;

use crate::args;

/// Longest regular expression source accepted (the compiled program is
/// bounded by the regex crate's own size limit as well).
pub const MAX_REGEX_LEN: usize = 64 * 1024;

pub(super) fn install(funcs: &mut Funcs) {
    funcs.add_fixed("join", 2, |a| {
        let sep = args::string(&a[0])?;
        Ok(Value::from(args::strings(&a[1])?.join(sep)))
    });
    funcs.add_fixed("split", 2, |a| {
        let sep = args::string(&a[0])?;
        let s = args::string(&a[1])?.trim();
        if s.is_empty() {
            return Ok(args::string_list(Vec::new()));
        }
        Ok(args::string_list(go_split(s, sep)))
    });
    funcs.add_fixed("splitToMap", 3, |a| {
        let (sep1, sep2) = (args::string(&a[0])?, args::string(&a[1])?);
        let s = args::string(&a[2])?.trim();
        let mut m = BTreeMap::new();
        if !s.is_empty() {
            for item in go_split(s, sep1) {
                if let Some((k, v)) = go_cut(&item, sep2) {
                    m.insert(Key::from(k), Value::from(v));
                }
            }
        }
        Ok(Value::Map(Arc::new(Map::typed(m, &STRING_MAP))))
    });
    funcs.add_fixed("trim", 2, |a| {
        let cutset = args::string(&a[0])?;
        let s = args::string(&a[1])?;
        Ok(Value::from(s.trim_matches(|c| cutset.contains(c))))
    });
    funcs.add_fixed("trimPrefix", 2, |a| {
        let p = args::string(&a[0])?;
        let s = args::string(&a[1])?;
        Ok(Value::from(s.strip_prefix(p).unwrap_or(s)))
    });
    funcs.add_fixed("trimSuffix", 2, |a| {
        let p = args::string(&a[0])?;
        let s = args::string(&a[1])?;
        Ok(Value::from(s.strip_suffix(p).unwrap_or(s)))
    });
    funcs.add_fixed("trimSpace", 1, |a| {
        Ok(Value::from(args::string(&a[0])?.trim()))
    });
    funcs.add_fixed("replaceAll", 3, |a| {
        let (from, to) = (args::string(&a[0])?, args::string(&a[1])?);
        Ok(Value::from(args::string(&a[2])?.replace(from, to)))
    });
    funcs.add_fixed("regexReplaceAll", 3, |a| {
        let re = compile(args::string(&a[0])?)?;
        let repl = args::string(&a[1])?;
        Ok(Value::from(
            re.replace_all(args::string(&a[2])?, repl).into_owned(),
        ))
    });
    funcs.add_fixed("regexMatch", 2, |a| {
        let re = compile(args::string(&a[0])?)?;
        Ok(Value::Bool(re.is_match(args::string(&a[1])?)))
    });
    funcs.add_fixed("toLower", 1, |a| {
        Ok(Value::from(to_lower(args::string(&a[0])?)))
    });
    funcs.add_fixed("toUpper", 1, |a| {
        Ok(Value::from(to_upper(args::string(&a[0])?)))
    });
    funcs.add_fixed("toTitle", 1, |a| {
        Ok(Value::from(to_title(args::string(&a[0])?)))
    });
    funcs.add_fixed("indent", 2, |a| {
        let n = args::int(&a[0])?;
        indent(n, args::string(&a[1])?).map(Value::from)
    });
}

/// Go's `strings.Split`: an empty separator splits into characters.
pub fn go_split(s: &str, sep: &str) -> Vec<String> {
    if sep.is_empty() {
        return s.chars().map(String::from).collect();
    }
    s.split(sep).map(String::from).collect()
}

/// Go's `strings.Cut`.
fn go_cut<'a>(s: &'a str, sep: &str) -> Option<(&'a str, &'a str)> {
    s.find(sep).map(|i| (&s[..i], &s[i + sep.len()..]))
}

fn compile(src: &str) -> Result<Regex, FuncError> {
    if src.len() > MAX_REGEX_LEN {
        return Err(FuncError::Call(format!(
            "regular expression is {} bytes, more than the {MAX_REGEX_LEN} accepted",
            src.len()
        )));
    }
    Regex::new(src).map_err(|e| {
        FuncError::Call(format!(
            "error parsing regexp {}: {}",
            gotemplate::fmt::quote(src),
            one_line(&e.to_string())
        ))
    })
}

/// The regex crate's messages draw the pattern over several lines; the last
/// line says what is wrong.
fn one_line(msg: &str) -> String {
    msg.lines()
        .rev()
        .find(|l| l.trim_start().starts_with("error:"))
        .map(|l| {
            l.trim_start()
                .trim_start_matches("error:")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|| msg.trim().to_string())
}

/// Go's `indent`: every line that is not empty gets `n` spaces first.
pub fn indent(n: i64, s: &str) -> Result<String, FuncError> {
    if n < 0 {
        return Err("indent value must be a positive integer".into());
    }
    let n = usize::try_from(n).map_err(|_| FuncError::from("indent value is too large"))?;
    let lines = s.split('\n').filter(|l| !l.is_empty()).count();
    let size = s.len().saturating_add(n.saturating_mul(lines));
    if size > MAX_INDENT_OUTPUT {
        return Err(FuncError::Call(format!(
            "indent {n} of {lines} lines would make {size} bytes, more than the {MAX_INDENT_OUTPUT} allowed"
        )));
    }
    let prefix = " ".repeat(n);
    let mut out = String::with_capacity(size);
    let mut at_start = true;
    for c in s.chars() {
        if at_start && c != '\n' {
            out.push_str(&prefix);
        }
        out.push(c);
        at_start = c == '\n';
    }
    Ok(out)
}

/// Largest output of one `indent` call.
pub const MAX_INDENT_OUTPUT: usize = 64 << 20;

/// Go's `unicode.ToLower` of one character: the simple mapping (one
/// character in, one out), which Rust gives whenever its full mapping is a
/// single character.
fn lower_char(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

fn upper_char(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `strings.ToLower`.
pub fn to_lower(s: &str) -> String {
    s.chars().map(lower_char).collect()
}

/// Go's `strings.ToUpper`.
pub fn to_upper(s: &str) -> String {
    s.chars().map(upper_char).collect()
}

/// The title case of one character (Unicode's full mapping).
fn push_title(out: &mut String, c: char) {
    // Digraphs have a title case of their own.
    let t = match c {
        '\u{1C4}'..='\u{1C6}' => Some('\u{1C5}'),
        '\u{1C7}'..='\u{1C9}' => Some('\u{1C8}'),
        '\u{1CA}'..='\u{1CC}' => Some('\u{1CB}'),
        '\u{1F1}'..='\u{1F3}' => Some('\u{1F2}'),
        _ => None,
    };
    if let Some(t) = t {
        out.push(t);
        return;
    }
    if !c.is_lowercase() {
        out.push(c);
        return;
    }
    // Ligatures and ß: the first letter upper, the rest lower ("Ss", "Ffi").
    for (i, u) in c.to_uppercase().enumerate() {
        if i == 0 {
            out.push(u);
        } else {
            out.extend(u.to_lowercase());
        }
    }
}

fn is_cased(c: char) -> bool {
    c.is_lowercase()
        || c.is_uppercase()
        || matches!(c, '\u{1C5}' | '\u{1C8}' | '\u{1CB}' | '\u{1F2}')
}

/// Word-break "mid" characters (MidLetter, MidNumLet, Single_Quote): they
/// do not end a word, unless two come together.
fn is_mid(c: char) -> bool {
    matches!(
        c,
        '\'' | '.'
            | ':'
            | '\u{B7}'
            | '\u{387}'
            | '\u{55F}'
            | '\u{5F4}'
            | '\u{2018}'
            | '\u{2019}'
            | '\u{2024}'
            | '\u{2027}'
            | '\u{FE13}'
            | '\u{FE52}'
            | '\u{FE55}'
            | '\u{FF07}'
            | '\u{FF0E}'
            | '\u{FF1A}'
    )
}

/// Whether a character that is not cased ends a word: everything but
/// letters, digits, connectors (`_`), marks, format characters and the
/// "mid" characters.
fn is_break(c: char) -> bool {
    if is_mid(c) || c == '\u{200D}' {
        return false;
    }
    if c.is_alphabetic() {
        // Ideographs and kana are letters that break words.
        return matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF);
    }
    if c.is_numeric() {
        return false;
    }
    !matches!(
        c,
        '_' | '\u{203F}' | '\u{2040}' | '\u{2054}' | '\u{FE33}' | '\u{FE34}' | '\u{FE4D}'..='\u{FE4F}' | '\u{FF3F}'
            | '\u{300}'..='\u{36F}'
            | '\u{AD}'
            | '\u{600}'..='\u{605}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
    )
}

/// consul-template's `toTitle`: `cases.Title(language.Und, cases.NoLower)`,
/// the first cased letter of each word in title case, the rest as it is.
pub fn to_title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut mid_word = false;
    let mut prev_mid = false;
    for c in s.chars() {
        if prev_mid && is_mid(c) {
            mid_word = false;
        }
        if is_cased(c) {
            if mid_word {
                out.push(c);
            } else {
                push_title(&mut out, c);
                mid_word = true;
            }
        } else {
            out.push(c);
            if is_break(c) {
                mid_word = false;
            }
        }
        prev_mid = is_mid(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_mapping_is_go_s() {
        assert_eq!(to_upper("straße ǆ"), "STRAßE Ǆ");
        assert_eq!(to_lower("İSTANBUL ΣΑΣ"), "istanbul σασ");
        assert_eq!(
            to_title("hello wORLD o'neil foo.bar a..b x-y 1st ǆa ßa"),
            "Hello WORLD O'neil Foo.bar A..B X-Y 1St ǅa Ssa"
        );
    }

    #[test]
    fn indent_prefixes_lines_that_have_text() {
        assert_eq!(indent(2, "a\n\nb\n").unwrap(), "  a\n\n  b\n");
        assert_eq!(indent(0, "a").unwrap(), "a");
        assert!(indent(-1, "a").is_err());
        assert!(indent(1 << 40, "a\nb").is_err());
    }
}
