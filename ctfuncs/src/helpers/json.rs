//! JSON as Go's `encoding/json` reads and writes it: `parseJSON` (numbers
//! become float64, objects `map[string]interface {}`) and `toJSON`,
//! `toJSONPretty`, `toUnescapedJSON`, `toUnescapedJSONPretty` (keys sorted,
//! `<>&` escaped unless asked not to, Go's float format).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use gotemplate::{FuncError, Funcs, Key, List, Map, Value};

use super::MAX_DEPTH;
use crate::args;

pub(super) fn install(funcs: &mut Funcs) {
    funcs.add_fixed("parseJSON", 1, |a| {
        let s = args::string(&a[0])?;
        if s.is_empty() {
            return Ok(Value::map(Vec::new()));
        }
        parse(s).map_err(FuncError::Call)
    });
    for (name, html, pretty) in [
        ("toJSON", true, false),
        ("toJSONPretty", true, true),
        ("toUnescapedJSON", false, false),
        ("toUnescapedJSONPretty", false, true),
    ] {
        funcs.add_fixed(name, 1, move |a| {
            let mut out = String::new();
            let enc = Encoder {
                html,
                indent: if pretty { Some("  ") } else { None },
            };
            enc.value(&mut out, &a[0], 0)
                .map_err(|e| FuncError::Call(format!("{name}: {e}")))?;
            let trimmed_len = out.trim_end().len();
            out.truncate(trimmed_len);
            Ok(Value::from(out))
        });
    }
}

// ---- decoding ----

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    depth: usize,
}

/// Go's `quoteChar` for scanner messages: `'x'`, `'\n'`, `'\''`.
fn quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '"' => "'\"'".into(),
        _ => {
            let q = gotemplate::fmt::quote(&c.to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

/// Parses JSON into template values as Go's `json.Unmarshal` into an
/// `interface{}` does, with Go's messages for bad input.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        depth: 0,
    };
    p.ws();
    let v = p.value("looking for beginning of value")?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.bad("after top-level value"));
    }
    Ok(v)
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn peek_char(&self) -> Option<char> {
        self.text.get(self.i..).and_then(|r| r.chars().next())
    }

    fn bad(&self, context: &str) -> String {
        match self.peek_char() {
            Some(c) => format!("invalid character {} {context}", quote_char(c)),
            None => "unexpected end of JSON input".into(),
        }
    }

    /// Go's scanner feeds a space at the end of the input, so an input cut
    /// inside a literal, a number or an escape fails on that space.
    fn bad_at_end(&self, context: &str) -> String {
        match self.peek_char() {
            Some(c) => format!("invalid character {} {context}", quote_char(c)),
            None => format!("invalid character ' ' {context}"),
        }
    }

    fn value(&mut self, context: &str) -> Result<Value, String> {
        match self.s.get(self.i) {
            None => Err("unexpected end of JSON input".into()),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => Ok(Value::from(self.string()?)),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Nil),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.bad(context)),
        }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "exceeded max depth ({MAX_DEPTH} levels of nesting)"
            ));
        }
        Ok(())
    }

    fn object(&mut self) -> Result<Value, String> {
        self.enter()?;
        self.i += 1;
        let mut m = BTreeMap::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(Value::Map(Arc::new(Map::new(m))));
        }
        loop {
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.bad("looking for beginning of object key string"));
            }
            let k = self.string()?;
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return Err(self.bad("after object key"));
            }
            self.i += 1;
            self.ws();
            let v = self.value("looking for beginning of value")?;
            m.insert(Key::from(k), v);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b'}') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(Value::Map(Arc::new(Map::new(m))));
                }
                _ => return Err(self.bad("after object key:value pair")),
            }
        }
    }

    fn array(&mut self) -> Result<Value, String> {
        self.enter()?;
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(Value::List(Arc::new(List::new(items))));
        }
        loop {
            items.push(self.value("looking for beginning of value")?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => {
                    self.i += 1;
                    self.ws();
                }
                Some(b']') => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(Value::List(Arc::new(List::new(items))));
                }
                _ => return Err(self.bad("after array element")),
            }
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
        for want in word.bytes() {
            match self.s.get(self.i) {
                Some(&b) if b == want => self.i += 1,
                _ => {
                    return Err(self.bad_at_end(&format!(
                        "in literal {word} (expecting {})",
                        quote_char(want as char)
                    )))
                }
            }
        }
        Ok(v)
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.i;
        if self.s[self.i] == b'-' {
            self.i += 1;
            if !matches!(self.s.get(self.i), Some(b'0'..=b'9')) {
                return Err(self.bad_at_end("in numeric literal"));
            }
        }
        if self.s[self.i] == b'0' {
            self.i += 1;
        } else {
            self.digits();
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.bad_at_end("after decimal point in numeric literal"));
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.bad_at_end("in exponent of numeric literal"));
            }
        }
        let text = &self.text[start..self.i];
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(format!(
                "json: cannot unmarshal number {text} into Go value of type float64"
            )),
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..4 {
            match self.s.get(self.i) {
                Some(&b) if b.is_ascii_hexdigit() => {
                    v = v * 16 + (b as char).to_digit(16).unwrap_or(0);
                    self.i += 1;
                }
                _ => return Err(self.bad_at_end("in \\u hexadecimal character escape")),
            }
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let start = self.i;
            while self.i < self.s.len() && !matches!(self.s[self.i], b'"' | b'\\' | 0..=0x1f) {
                self.i += 1;
            }
            out.push_str(&self.text[start..self.i]);
            match self.s.get(self.i) {
                None => return Err("unexpected end of JSON input".into()),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    let Some(&e) = self.s.get(self.i) else {
                        return Err(self.bad_at_end("in string escape code"));
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let hi = self.hex4()?;
                            let c = if (0xD800..0xDC00).contains(&hi)
                                && self.s.get(self.i..self.i + 2) == Some(b"\\u")
                            {
                                let save = self.i;
                                self.i += 2;
                                let lo = self.hex4()?;
                                if (0xDC00..0xE000).contains(&lo) {
                                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                                } else {
                                    // Not a pair: the lone half is U+FFFD and
                                    // the next escape is read on its own.
                                    self.i = save;
                                    None
                                }
                            } else {
                                char::from_u32(hi)
                            };
                            out.push(c.unwrap_or('\u{FFFD}'));
                        }
                        _ => {
                            self.i -= 1;
                            return Err(self.bad("in string escape code"));
                        }
                    }
                }
                Some(_) => return Err(self.bad("in string literal")),
            }
        }
    }
}

// ---- encoding ----

/// Go's JSON encoder settings.
#[derive(Clone, Copy, Debug)]
pub struct Encoder {
    /// Escape `<`, `>` and `&` (json.Marshal does, an Encoder with
    /// `SetEscapeHTML(false)` does not).
    pub html: bool,
    /// The indent of `MarshalIndent` (`None`: compact).
    pub indent: Option<&'static str>,
}

/// Go's float format in JSON: `%f` style between 1e-6 and 1e21, else
/// exponent form with at least one exponent digit (`1e-7`, `1e+21`).
pub fn float(f: f64) -> Result<String, String> {
    if !f.is_finite() {
        return Err(format!(
            "json: unsupported value: {}",
            gotemplate::fmt::shortest_g(f)
        ));
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let s = format!("{f:e}");
        Ok(match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        })
    } else {
        Ok(format!("{f}"))
    }
}

/// Go's JSON string escaping.
pub fn string(out: &mut String, s: &str, html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Go 1.22 and later (what consul-template releases are built with).
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Encoder {
    fn newline(&self, out: &mut String, depth: usize) {
        if let Some(ind) = self.indent {
            out.push('\n');
            for _ in 0..depth {
                out.push_str(ind);
            }
        }
    }

    /// Writes `v` as JSON.
    pub fn value(&self, out: &mut String, v: &Value, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("json: nesting deeper than {MAX_DEPTH} levels"));
        }
        match v {
            Value::Missing | Value::Nil => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Uint(u) => {
                let _ = write!(out, "{u}");
            }
            Value::Float(f) => out.push_str(&float(*f)?),
            Value::Str(s) => string(out, s, self.html),
            Value::List(l) => {
                if l.ty.name == "[]uint8" {
                    return Err("json: []uint8 values are not supported here".into());
                }
                self.seq(out, &l.items, depth)?;
            }
            Value::Map(m) => self.map(out, m, depth)?,
            Value::Struct(s) => {
                let fields: Vec<(String, &Value)> =
                    s.ty.fields
                        .iter()
                        .zip(&s.fields)
                        .map(|(f, v)| (f.to_string(), v))
                        .collect();
                self.object(out, &fields, depth)?;
            }
            Value::Object(_) => out.push_str("{}"),
        }
        Ok(())
    }

    fn seq(&self, out: &mut String, items: &[Value], depth: usize) -> Result<(), String> {
        out.push('[');
        if items.is_empty() {
            out.push(']');
            return Ok(());
        }
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.newline(out, depth + 1);
            self.value(out, item, depth + 1)?;
        }
        self.newline(out, depth);
        out.push(']');
        Ok(())
    }

    fn map(&self, out: &mut String, m: &Map, depth: usize) -> Result<(), String> {
        if m.ty.name.starts_with("map[interface {}]") || m.ty.name.starts_with("map[bool]") {
            return Err(format!("json: unsupported type: {}", m.ty.name));
        }
        // Keys are sorted as the strings they become.
        let mut fields: Vec<(String, &Value)> = m
            .entries
            .iter()
            .map(|(k, v)| {
                let key = match k {
                    Key::Str(s) => s.to_string(),
                    Key::Int(i) => i.to_string(),
                    Key::Uint(u) => u.to_string(),
                    Key::Bool(b) => b.to_string(),
                };
                (key, v)
            })
            .collect();
        fields.sort_by(|a, b| a.0.cmp(&b.0));
        self.object(out, &fields, depth)
    }

    fn object(
        &self,
        out: &mut String,
        fields: &[(String, &Value)],
        depth: usize,
    ) -> Result<(), String> {
        out.push('{');
        if fields.is_empty() {
            out.push('}');
            return Ok(());
        }
        for (i, (k, v)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.newline(out, depth + 1);
            string(out, k, self.html);
            out.push(':');
            if self.indent.is_some() {
                out.push(' ');
            }
            self.value(out, v, depth + 1)?;
        }
        self.newline(out, depth);
        out.push('}');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_go_s() {
        for (f, s) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1e-7, "1e-7"),
            (0.000001, "0.000001"),
            (-0.0, "-0"),
            (123456789.0, "123456789"),
            (1.5e300, "1.5e+300"),
        ] {
            assert_eq!(float(f).unwrap(), s);
        }
        assert!(float(f64::NAN).is_err());
    }

    #[test]
    fn errors_are_go_s() {
        assert_eq!(parse("").unwrap_err(), "unexpected end of JSON input");
        assert_eq!(parse("{").unwrap_err(), "unexpected end of JSON input");
        assert_eq!(
            parse("x").unwrap_err(),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            parse("{\"a\" 1}").unwrap_err(),
            "invalid character '1' after object key"
        );
        assert_eq!(
            parse("[1 2]").unwrap_err(),
            "invalid character '2' after array element"
        );
        assert_eq!(
            parse("tru").unwrap_err(),
            "invalid character ' ' in literal true (expecting 'e')"
        );
        assert_eq!(
            parse("trux").unwrap_err(),
            "invalid character 'x' in literal true (expecting 'e')"
        );
        assert_eq!(
            parse("01").unwrap_err(),
            "invalid character '1' after top-level value"
        );
        assert_eq!(
            parse("\"a\nb\"").unwrap_err(),
            "invalid character '\\n' in string literal"
        );
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep).unwrap_err().contains("max depth"));
    }
}
