//! `toJson`, `toPrettyJson`, `toRawJson`, `fromJson` and their `must`
//! forms, with Go's encoding/json: HTML characters escaped as `\u003c`
//! (except by `toRawJson`), map keys sorted, floats in Go's format,
//! objects of `interface{}` decoded to `map[string]interface {}`, numbers
//! to float64, and Go's syntax error messages.
//!
//! Limits: nesting deeper than [`MAX_DEPTH`] fails to encode or decode
//! (Go allows 10,000 levels when decoding; a recursive encoder here would
//! need the stack for more). A nil slice encodes as `[]` (Go: `null`):
//! template values do not tell nil and empty slices apart.

use std::fmt::Write as _;

use gotemplate::fmt::quote;
use gotemplate::{FuncError, Key, Value};

use super::conv::arg_str;
use super::Reg;

/// The deepest nesting encoded or decoded.
pub const MAX_DEPTH: usize = 1000;

/// Go's `strconv.FormatFloat` as encoding/json uses it.
pub(crate) fn json_float(f: f64) -> String {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Shortest digits in exponent form: Go writes e+21, e-7.
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((m, e)) if e.starts_with('-') => format!("{m}e{e}"),
            Some((m, e)) => format!("{m}e+{e}"),
            None => s,
        }
    } else {
        // Rust's Display is the shortest round-trip digits, never in
        // exponent form: Go's 'f' format with precision -1.
        let s = format!("{f}");
        if s == "-0" {
            "-0".into()
        } else {
            s
        }
    }
}

/// Go's JSON string encoding.
pub(crate) fn json_string(out: &mut String, s: &str, escape_html: bool) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '<' | '>' | '&' if escape_html => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// How to lay out the JSON.
#[derive(Clone, Copy)]
pub(crate) struct Style {
    pub escape_html: bool,
    /// `Some(unit)`: MarshalIndent with this indent per level.
    pub indent: Option<&'static str>,
}

fn newline(out: &mut String, style: Style, depth: usize) {
    if let Some(unit) = style.indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(unit);
        }
    }
}

/// Go's `json.Marshal` of a template value.
pub(crate) fn encode(
    out: &mut String,
    v: &Value,
    style: Style,
    depth: usize,
) -> Result<(), String> {
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
        Value::Float(f) => {
            if !f.is_finite() {
                return Err(format!(
                    "json: unsupported value: {}",
                    gotemplate::fmt::shortest_g(*f)
                ));
            }
            out.push_str(&json_float(*f));
        }
        Value::Str(s) => json_string(out, s, style.escape_html),
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, style, depth + 1);
                encode(out, item, style, depth + 1)?;
            }
            if !l.items.is_empty() {
                newline(out, style, depth);
            }
            out.push(']');
        }
        Value::Map(m) => {
            // Keys as strings, sorted as strings (Go sorts int keys that way too).
            let mut entries: Vec<(String, &Value)> = Vec::with_capacity(m.entries.len());
            for (k, val) in &m.entries {
                let key = match k {
                    Key::Str(s) => s.to_string(),
                    Key::Int(i) => i.to_string(),
                    Key::Uint(u) => u.to_string(),
                    Key::Bool(_) => {
                        return Err(format!("json: unsupported type: {}", v.type_name()))
                    }
                };
                entries.push((key, val));
            }
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            write_object(out, entries.into_iter(), style, depth)?;
        }
        Value::Struct(s) => {
            let fields =
                s.ty.fields
                    .iter()
                    .map(|f| f.to_string())
                    .zip(s.fields.iter());
            write_object(out, fields, style, depth)?;
        }
        Value::Object(o) => match o.call("MarshalJSON", &[]) {
            Some(Ok(Value::Str(raw))) => out.push_str(&raw),
            Some(Err(e)) => return Err(e),
            _ => out.push_str("{}"),
        },
    }
    Ok(())
}

fn write_object<'a>(
    out: &mut String,
    entries: impl ExactSizeIterator<Item = (String, &'a Value)>,
    style: Style,
    depth: usize,
) -> Result<(), String> {
    let empty = entries.len() == 0;
    out.push('{');
    for (i, (k, val)) in entries.enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, style, depth + 1);
        json_string(out, &k, style.escape_html);
        out.push(':');
        if style.indent.is_some() {
            out.push(' ');
        }
        encode(out, val, style, depth + 1)?;
    }
    if !empty {
        newline(out, style, depth);
    }
    out.push('}');
    Ok(())
}

/// A JSON document as a string, or Go's error.
pub(crate) fn to_json(v: &Value, style: Style) -> Result<String, String> {
    let mut out = String::new();
    encode(&mut out, v, style, 0)?;
    Ok(out)
}

/// Go's decoding of JSON into `interface{}`.
pub(crate) struct Decoder<'a> {
    src: &'a [u8],
    pos: usize,
    /// The first value error (a number out of range), reported after the
    /// whole document is read, as Go reports it.
    value_err: Option<String>,
}

/// Go's `quoteChar`: the byte as a Latin-1 rune, in single quotes.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        c => {
            let q = quote(&char::from(c).to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(src: &'a str) -> Decoder<'a> {
        Decoder {
            src: src.as_bytes(),
            pos: 0,
            value_err: None,
        }
    }

    fn invalid(&self, context: &str) -> String {
        match self.src.get(self.pos) {
            None => "unexpected end of JSON input".into(),
            Some(&c) => format!("invalid character {} {context}", quote_char(c)),
        }
    }

    /// Inside a number or a literal, Go's scanner meets the end of input as
    /// a space.
    fn invalid_token(&self, context: &str) -> String {
        let c = self.src.get(self.pos).copied().unwrap_or(b' ');
        format!("invalid character {} {context}", quote_char(c))
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.src.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The whole document: one value and nothing after it.
    pub(crate) fn document(mut self) -> Result<Value, (Option<Value>, String)> {
        self.skip_ws();
        let v = self.value(0).map_err(|e| (None, e))?;
        self.skip_ws();
        if self.pos < self.src.len() {
            return Err((None, self.invalid("after top-level value")));
        }
        match self.value_err {
            Some(e) => Err((Some(v), e)),
            None => Ok(v),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth >= MAX_DEPTH {
            return Err("exceeded max depth".into());
        }
        match self.src.get(self.pos) {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Value::from(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Nil),
            _ => Err(self.invalid("looking for beginning of value")),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value, String> {
        for (i, &want) in word.as_bytes().iter().enumerate() {
            if self.src.get(self.pos) != Some(&want) {
                return Err(self.invalid_token(&format!(
                    "in literal {word} (expecting {})",
                    quote_char(want)
                )));
            }
            let _ = i;
            self.pos += 1;
        }
        Ok(v)
    }

    fn number(&mut self) -> Result<Value, String> {
        let start = self.pos;
        let digits = |d: &mut Decoder<'_>| {
            while let Some(b'0'..=b'9') = d.src.get(d.pos) {
                d.pos += 1;
            }
        };
        if self.src.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        match self.src.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => digits(self),
            _ => return Err(self.invalid_token("in numeric literal")),
        }
        if self.src.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !matches!(self.src.get(self.pos), Some(b'0'..=b'9')) {
                return Err(self.invalid_token("after decimal point in numeric literal"));
            }
            digits(self);
        }
        if let Some(b'e' | b'E') = self.src.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.src.get(self.pos) {
                self.pos += 1;
            }
            if !matches!(self.src.get(self.pos), Some(b'0'..=b'9')) {
                return Err(self.invalid_token("in exponent of numeric literal"));
            }
            digits(self);
        }
        let text = std::str::from_utf8(&self.src[start..self.pos]).unwrap_or("0");
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => {
                if self.value_err.is_none() {
                    self.value_err = Some(format!(
                        "json: cannot unmarshal number {text} into Go value of type float64"
                    ));
                }
                Ok(Value::Nil)
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let mut n = 0u32;
        for _ in 0..4 {
            let Some(d) = self
                .src
                .get(self.pos)
                .and_then(|&c| char::from(c).to_digit(16))
            else {
                return Err(self.invalid("in \\u hexadecimal character escape"));
            };
            n = n * 16 + d;
            self.pos += 1;
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, String> {
        self.pos += 1; // the opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&c) = self.src.get(self.pos) else {
                return Err("unexpected end of JSON input".into());
            };
            match c {
                b'"' => {
                    self.pos += 1;
                    return Ok(String::from_utf8(out)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()));
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(&e) = self.src.get(self.pos) else {
                        return Err("unexpected end of JSON input".into());
                    };
                    self.pos += 1;
                    let simple = match e {
                        b'"' => Some(b'"'),
                        b'\\' => Some(b'\\'),
                        b'/' => Some(b'/'),
                        b'b' => Some(8),
                        b'f' => Some(12),
                        b'n' => Some(b'\n'),
                        b'r' => Some(b'\r'),
                        b't' => Some(b'\t'),
                        b'u' => None,
                        _ => {
                            self.pos -= 1;
                            return Err(self.invalid("in string escape code"));
                        }
                    };
                    if let Some(b) = simple {
                        out.push(b);
                        continue;
                    }
                    let mut cp = self.hex4()?;
                    if (0xD800..0xDC00).contains(&cp)
                        && self.src.get(self.pos) == Some(&b'\\')
                        && self.src.get(self.pos + 1) == Some(&b'u')
                    {
                        let save = self.pos;
                        self.pos += 2;
                        let lo = self.hex4()?;
                        if (0xDC00..0xE000).contains(&lo) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        } else {
                            // Not a pair: the first is replaced, the second read on its own.
                            self.pos = save;
                            cp = 0xFFFD;
                        }
                    }
                    let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                0..=0x1F => return Err(self.invalid("in string literal")),
                _ => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, String> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.src.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::list(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.src.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::list(items));
                }
                _ => return Err(self.invalid("after array element")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, String> {
        self.pos += 1;
        let mut entries = std::collections::BTreeMap::new();
        self.skip_ws();
        if self.src.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Map(std::sync::Arc::new(gotemplate::Map::new(
                entries,
            ))));
        }
        loop {
            self.skip_ws();
            if self.src.get(self.pos) != Some(&b'"') {
                return Err(self.invalid("looking for beginning of object key string"));
            }
            let k = self.string()?;
            self.skip_ws();
            if self.src.get(self.pos) != Some(&b':') {
                return Err(self.invalid("after object key"));
            }
            self.pos += 1;
            self.skip_ws();
            let v = self.value(depth + 1)?;
            entries.insert(Key::from(k), v);
            self.skip_ws();
            match self.src.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Map(std::sync::Arc::new(gotemplate::Map::new(
                        entries,
                    ))));
                }
                _ => return Err(self.invalid("after object key:value pair")),
            }
        }
    }
}

const PLAIN: Style = Style {
    escape_html: true,
    indent: None,
};
const PRETTY: Style = Style {
    escape_html: true,
    indent: Some("  "),
};
const RAW: Style = Style {
    escape_html: false,
    indent: None,
};

pub(super) fn install(r: &mut Reg<'_>) {
    r.fixed("fromJson", 1, |a| {
        Ok(match Decoder::new(arg_str(&a[0])?).document() {
            Ok(v) => v,
            Err((partial, _)) => partial.unwrap_or(Value::Nil),
        })
    });
    r.fixed("mustFromJson", 1, |a| {
        Decoder::new(arg_str(&a[0])?)
            .document()
            .map_err(|(_, e)| FuncError::Call(e))
    });
    for (name, style) in [("toJson", PLAIN), ("toPrettyJson", PRETTY)] {
        r.fixed(name, 1, move |a| {
            Ok(Value::from(to_json(&a[0], style).unwrap_or_default()))
        });
    }
    for (name, style) in [
        ("mustToJson", PLAIN),
        ("mustToPrettyJson", PRETTY),
        ("toRawJson", RAW),
        ("mustToRawJson", RAW),
    ] {
        r.fixed(name, 1, move |a| {
            to_json(&a[0], style)
                .map(Value::from)
                .map_err(FuncError::Call)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go() {
        assert_eq!(json_float(1.0), "1");
        assert_eq!(json_float(1.5), "1.5");
        assert_eq!(json_float(1e21), "1e+21");
        assert_eq!(json_float(1e20), "100000000000000000000");
        assert_eq!(json_float(1.5e-7), "1.5e-7");
        assert_eq!(json_float(0.000001), "0.000001");
    }

    #[test]
    fn decodes_and_fails_as_go() {
        let d = |s: &str| Decoder::new(s).document().map_err(|(_, e)| e);
        assert_eq!(d("").unwrap_err(), "unexpected end of JSON input");
        assert_eq!(
            d("x").unwrap_err(),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            d("{\"a\" 1}").unwrap_err(),
            "invalid character '1' after object key"
        );
        assert_eq!(
            d("[1,]").unwrap_err(),
            "invalid character ']' looking for beginning of value"
        );
        assert_eq!(d("\"\\ud83d\\ude80\"").unwrap(), Value::str("🚀"));
        let deep = "[".repeat(MAX_DEPTH + 5);
        assert_eq!(d(&deep).unwrap_err(), "exceeded max depth");
    }
}
