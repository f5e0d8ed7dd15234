//! Word functions from goutils (`abbrev`, `wrap`, `initials`, `swapcase`,
//! ...) and xstrings (`snakecase`, `camelcase`, `kebabcase`), ported with
//! their quirks: goutils' `initials` and `nospace` read bytes as Latin-1
//! runes, `wrap` and `abbrev` cut bytes.
//!
//! Unicode categories: Rust's standard library has no general categories,
//! so `IsUpper`/`IsLower` are the Uppercase/Lowercase properties, `IsLetter`
//! the Alphabetic property, and `IsPunct` is exact for ASCII and Latin-1 and
//! covers the General Punctuation and CJK punctuation blocks beyond.

use gotemplate::{FuncError, Value};

use super::conv::{arg_int, arg_str};
use super::strings::{byte_slice, lower_rune, upper_rune};
use super::{check_len, Reg};

/// Go's `unicode.IsPunct` (see the module's note).
fn is_punct(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_punctuation() && !"$+<=>^`|~".contains(c);
    }
    matches!(c as u32,
        0xA1 | 0xA7 | 0xAB | 0xB6 | 0xB7 | 0xBB | 0xBF
        | 0x2010..=0x2027 | 0x2030..=0x2043 | 0x2045..=0x2051 | 0x2053..=0x205E
        | 0x3001..=0x3003 | 0x3008..=0x3011 | 0x3014..=0x301F | 0xFF01..=0xFF03
        | 0xFF05..=0xFF0A | 0xFF0C..=0xFF0F | 0xFF1A | 0xFF1B | 0xFF1F | 0xFF20)
}

/// Go's `unicode.IsTitle` (the titlecase letters).
fn is_title(c: char) -> bool {
    matches!(c as u32, 0x1C5 | 0x1C8 | 0x1CB | 0x1F2 | 0x1F88..=0x1F8F | 0x1F98..=0x1F9F
        | 0x1FA8..=0x1FAF | 0x1FBC | 0x1FCC | 0x1FFC)
}

/// goutils' `AbbreviateFull` on bytes (in i128: any int64 offset or
/// width is arithmetic without overflow).
fn abbreviate_full(s: &str, offset: i64, max_width: i64) -> Option<String> {
    if s.is_empty() {
        return Some(String::new());
    }
    let max_width = i128::from(max_width);
    if max_width < 4 {
        return None;
    }
    let len = s.len() as i128;
    if len <= max_width {
        return Some(s.to_string());
    }
    let mut offset = i128::from(offset).min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    if offset <= 4 {
        return Some(format!("{}...", byte_slice(s, 0, (max_width - 3) as usize)));
    }
    if max_width < 7 {
        return None;
    }
    if offset + max_width - 3 < len {
        let rest = byte_slice(s, offset as usize, s.len());
        let inner = abbreviate_full(&rest, 0, (max_width - 3) as i64).unwrap_or_default();
        return Some(format!("...{inner}"));
    }
    Some(format!(
        "...{}",
        byte_slice(s, (len - (max_width - 3)) as usize, s.len())
    ))
}

/// goutils' `WrapCustom` on bytes.
fn wrap_custom(s: &str, wrap_len: i64, sep: &str, long_words: bool) -> Result<String, FuncError> {
    if s.is_empty() {
        return Ok(String::new());
    }
    let sep = if sep.is_empty() { "\n" } else { sep };
    let wl = wrap_len.max(1) as usize;
    let b = s.as_bytes();
    let len = b.len();
    // At most one separator per input byte.
    check_len(len as u128 * (sep.len() as u128 + 1))?;
    let mut out: Vec<u8> = Vec::with_capacity(len);
    let mut offset = 0usize;
    while len - offset > wl {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = wl + offset + 1;
        match b[offset..end].iter().rposition(|&c| c == b' ') {
            Some(i) => {
                let at = offset + i;
                out.extend_from_slice(&b[offset..at]);
                out.extend_from_slice(sep.as_bytes());
                offset = at + 1;
            }
            None if long_words => {
                let end = wl + offset;
                out.extend_from_slice(&b[offset..end]);
                out.extend_from_slice(sep.as_bytes());
                offset += wl;
            }
            None => {
                let end = wl + offset;
                match b[end..].iter().position(|&c| c == b' ') {
                    None => {
                        out.extend_from_slice(&b[offset..]);
                        offset = len;
                    }
                    Some(i) => {
                        let at = end + i;
                        out.extend_from_slice(&b[offset..at]);
                        out.extend_from_slice(sep.as_bytes());
                        offset = at + 1;
                    }
                }
            }
        }
    }
    out.extend_from_slice(&b[offset..]);
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// goutils' `Initials`: the first byte after whitespace, as a Latin-1 rune.
fn initials(s: &str) -> String {
    let mut out = String::new();
    let mut gap = true;
    for &b in s.as_bytes() {
        let c = char::from(b);
        if c.is_whitespace() {
            gap = true;
        } else if gap {
            out.push(c);
            gap = false;
        }
    }
    out
}

/// goutils' `DeleteWhiteSpace`: bytes as Latin-1 runes, whitespace removed.
fn delete_white_space(s: &str) -> String {
    if !s.bytes().any(|b| char::from(b).is_whitespace()) {
        return s.to_string();
    }
    s.bytes()
        .map(char::from)
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// goutils' `Uncapitalize`: the first rune of each word in lower case.
fn uncapitalize(s: &str) -> String {
    let mut next = true;
    s.chars()
        .map(|c| {
            if c.is_whitespace() {
                next = true;
                c
            } else if next {
                next = false;
                lower_rune(c)
            } else {
                c
            }
        })
        .collect()
}

/// goutils' `SwapCase`.
fn swap_case(s: &str) -> String {
    let mut ws = true;
    s.chars()
        .map(|c| {
            if c.is_uppercase() || is_title(c) {
                ws = false;
                lower_rune(c)
            } else if c.is_lowercase() {
                let u = upper_rune(c);
                ws = false;
                u
            } else {
                ws = c.is_whitespace();
                c
            }
        })
        .collect()
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || c.is_whitespace()
}

/// xstrings' `isAlphabet`: a letter, CJK ideographs excluded.
fn is_alphabet(c: char) -> bool {
    if !c.is_alphabetic() {
        return false;
    }
    !matches!(c as u32, 0x4E00..=0x9FCC | 0x3400..=0x4D85 | 0x20000..=0x2B81D)
}

/// xstrings' `ToCamelCase`.
fn camel_case(s: &str) -> String {
    let mut chars = s.chars();
    let mut out = String::new();
    let mut r0 = '\0';
    let mut found = false;
    for c in chars.by_ref() {
        if !is_connector(c) {
            r0 = upper_rune(c);
            found = true;
            break;
        }
        out.push(c);
    }
    let rest: Vec<char> = chars.collect();
    if rest.is_empty() {
        if found {
            out.push(r0);
        }
        return out;
    }
    for c in rest {
        let r1 = r0;
        r0 = c;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            r0 = upper_rune(r0);
        } else {
            r0 = lower_rune(r0);
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Word {
    Invalid,
    Number,
    Upper,
    Alpha,
    Connector,
    Punct,
    Other,
}

/// xstrings' `nextWord` over a valid UTF-8 string.
fn next_word(s: &str) -> (Word, &str, &str) {
    let mut it = s.char_indices().peekable();
    let Some((_, r)) = it.next() else {
        return (Word::Invalid, "", "");
    };
    let end_of = |it: &mut std::iter::Peekable<std::str::CharIndices<'_>>| {
        it.peek().map_or(s.len(), |&(i, _)| i)
    };
    let take_while = |it: &mut std::iter::Peekable<std::str::CharIndices<'_>>,
                      f: &dyn Fn(char) -> bool| {
        while let Some(&(_, c)) = it.peek() {
            if !f(c) {
                break;
            }
            it.next();
        }
    };
    let wt;
    if is_connector(r) {
        wt = Word::Connector;
        take_while(&mut it, &is_connector);
    } else if is_punct(r) {
        wt = Word::Punct;
        take_while(&mut it, &is_punct);
    } else if r.is_uppercase() {
        wt = Word::Upper;
        if let Some(&(_, c)) = it.peek() {
            if c.is_uppercase() {
                let mut prev_start = end_of(&mut it);
                it.next();
                while let Some(&(i, c)) = it.peek() {
                    if !c.is_uppercase() {
                        break;
                    }
                    prev_start = i;
                    it.next();
                }
                // "HTTPStatus": the S starts the next word.
                if let Some(&(_, c)) = it.peek() {
                    if is_alphabet(c) {
                        return (Word::Upper, &s[..prev_start], &s[prev_start..]);
                    }
                }
            } else if is_alphabet(c) {
                take_while(&mut it, &|c| is_alphabet(c) && !c.is_uppercase());
            }
        }
    } else if is_alphabet(r) {
        wt = Word::Alpha;
        take_while(&mut it, &|c| is_alphabet(c) && !c.is_uppercase());
    } else if r.is_numeric() {
        wt = Word::Number;
        take_while(&mut it, &char::is_numeric);
    } else {
        wt = Word::Other;
        take_while(&mut it, &|c| {
            !(is_connector(c) || is_alphabet(c) || c.is_numeric() || is_punct(c))
        });
    }
    let end = end_of(&mut it);
    (wt, &s[..end], &s[end..])
}

fn to_lower(out: &mut String, wt: Word, word: &str, connector: char) {
    if wt != Word::Upper && wt != Word::Connector {
        out.push_str(word);
        return;
    }
    for c in word.chars() {
        if is_connector(c) {
            out.push(connector);
        } else if c.is_uppercase() {
            out.push(lower_rune(c));
        } else {
            out.push(c);
        }
    }
}

/// xstrings' `camelCaseToLowerCase` (snakecase, kebabcase).
fn camel_to_lower(s: &str, connector: char) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let (mut wt, mut word, mut rem) = next_word(s);
    while !rem.is_empty() {
        if wt != Word::Connector {
            to_lower(&mut out, wt, word, connector);
        }
        let prev = wt;
        let last = word;
        (wt, word, rem) = next_word(rem);
        match prev {
            Word::Number => {
                while wt == Word::Alpha || wt == Word::Number {
                    to_lower(&mut out, wt, word, connector);
                    (wt, word, rem) = next_word(rem);
                }
                if !matches!(wt, Word::Invalid | Word::Punct | Word::Connector) {
                    out.push(connector);
                }
            }
            Word::Connector => to_lower(&mut out, prev, last, connector),
            Word::Punct => {}
            _ => {
                if wt != Word::Number {
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                if rem.is_empty() {
                    continue;
                }
                let last = word;
                (wt, word, rem) = next_word(rem);
                if wt != Word::Alpha {
                    to_lower(&mut out, Word::Number, last, connector);
                    if wt != Word::Connector && wt != Word::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                out.push(connector);
                to_lower(&mut out, Word::Number, last, connector);
                while wt == Word::Alpha || wt == Word::Number {
                    to_lower(&mut out, wt, word, connector);
                    (wt, word, rem) = next_word(rem);
                }
                if !matches!(wt, Word::Invalid | Word::Connector | Word::Punct) {
                    out.push(connector);
                }
            }
        }
    }
    to_lower(&mut out, wt, word, connector);
    out
}

pub(super) fn install(r: &mut Reg<'_>) {
    r.fixed("abbrev", 2, |a| {
        let (width, s) = (arg_int(&a[0])?, arg_str(&a[1])?);
        if width < 4 {
            return Ok(Value::str(s));
        }
        Ok(Value::from(
            abbreviate_full(s, 0, width).unwrap_or_default(),
        ))
    });
    r.fixed("abbrevboth", 3, |a| {
        let (left, right, s) = (arg_int(&a[0])?, arg_int(&a[1])?, arg_str(&a[2])?);
        if right < 4 || left > 0 && right < 7 {
            return Ok(Value::str(s));
        }
        Ok(Value::from(
            abbreviate_full(s, left, right).unwrap_or_default(),
        ))
    });
    r.fixed("initials", 1, |a| {
        Ok(Value::from(initials(arg_str(&a[0])?)))
    });
    r.fixed("untitle", 1, |a| {
        Ok(Value::from(uncapitalize(arg_str(&a[0])?)))
    });
    r.fixed("nospace", 1, |a| {
        Ok(Value::from(delete_white_space(arg_str(&a[0])?)))
    });
    r.fixed("swapcase", 1, |a| {
        Ok(Value::from(swap_case(arg_str(&a[0])?)))
    });
    r.fixed("snakecase", 1, |a| {
        Ok(Value::from(camel_to_lower(arg_str(&a[0])?, '_')))
    });
    r.fixed("kebabcase", 1, |a| {
        Ok(Value::from(camel_to_lower(arg_str(&a[0])?, '-')))
    });
    r.fixed("camelcase", 1, |a| {
        Ok(Value::from(camel_case(arg_str(&a[0])?)))
    });
    r.fixed("wrap", 2, |a| {
        Ok(Value::from(wrap_custom(
            arg_str(&a[1])?,
            arg_int(&a[0])?,
            "",
            false,
        )?))
    });
    r.fixed("wrapWith", 3, |a| {
        Ok(Value::from(wrap_custom(
            arg_str(&a[2])?,
            arg_int(&a[0])?,
            arg_str(&a[1])?,
            true,
        )?))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xstrings_samples() {
        for (i, snake) in [
            ("FirstName", "first_name"),
            ("HTTPServer", "http_server"),
            ("NoHTTPS", "no_https"),
            ("GO_PATH", "go_path"),
            ("GO PATH", "go_path"),
            ("GO-PATH", "go_path"),
            ("http2xx", "http_2xx"),
            ("HTTP20xOK", "http_20x_ok"),
            ("Duration2m3s", "duration_2m3s"),
            ("Bld4Floor3rd", "bld4_floor_3rd"),
        ] {
            assert_eq!(camel_to_lower(i, '_'), snake, "{i}");
        }
        assert_eq!(camel_case("some_words"), "SomeWords");
        assert_eq!(camel_case("_complex__case_"), "_Complex_Case_");
        assert_eq!(swap_case("Hello World"), "hELLO wORLD");
        assert_eq!(initials("first try"), "ft");
        assert_eq!(
            abbreviate_full("abcdefghijkl", i64::MIN, 7).unwrap(),
            "abcd..."
        );
        assert_eq!(
            abbreviate_full("abcdefghijkl", i64::MAX, 7).unwrap(),
            "...ijkl"
        );
    }
}
