//! `toYAML`: the output of `gopkg.in/yaml.v2`'s `Marshal` (what
//! consul-template uses): block style, map keys in yaml.v2's natural order,
//! struct fields lower-cased, scalars plain when they read back as the same
//! string and quoted otherwise, long lines folded at 80 columns.

use std::cmp::Ordering;

use gotemplate::{Key, Value};

use super::resolve::{is_base60_float, resolves_to_str};
use crate::helpers::MAX_DEPTH;

const BEST_WIDTH: usize = 80;
const BEST_INDENT: usize = 2;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    Single,
    Double,
    Literal,
}

struct Emitter {
    out: String,
    column: usize,
    /// The last thing written was whitespace (or nothing).
    whitespace: bool,
    /// Only indentation has been written on this line.
    indention: bool,
}

/// Marshals `v` as yaml.v2 does (with the final newline).
pub fn to_yaml(v: &Value) -> Result<String, String> {
    let mut e = Emitter {
        out: String::new(),
        column: 0,
        whitespace: true,
        indention: true,
    };
    e.node(v, -1, Ctx::Root, 0)?;
    if !e.out.ends_with('\n') {
        e.out.push('\n');
    }
    Ok(e.out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Root,
    MapValue,
    SeqItem,
}

/// A node's scalar text and the style yaml.v2 asks for.
fn scalar(v: &Value) -> Option<(String, Style)> {
    Some(match v {
        Value::Missing | Value::Nil => ("null".into(), Style::Plain),
        Value::Bool(b) => (b.to_string(), Style::Plain),
        Value::Int(i) => (i.to_string(), Style::Plain),
        Value::Uint(u) => (u.to_string(), Style::Plain),
        Value::Float(f) => {
            let s = match gotemplate::fmt::shortest_g(*f).as_str() {
                "+Inf" => ".inf".to_string(),
                "-Inf" => "-.inf".to_string(),
                "NaN" => ".nan".to_string(),
                s => s.to_string(),
            };
            (s, Style::Plain)
        }
        Value::Str(s) => {
            let style = if s.contains('\n') {
                Style::Literal
            } else if resolves_to_str(s) && !is_base60_float(s) {
                Style::Plain
            } else {
                Style::Double
            };
            (s.to_string(), style)
        }
        Value::Object(o) => (o.print(), Style::Plain),
        _ => return None,
    })
}

fn key_text(k: &Key) -> (String, Style) {
    scalar(&k.to_value()).unwrap_or_default_str()
}

trait OrStr {
    fn unwrap_or_default_str(self) -> (String, Style);
}
impl OrStr for Option<(String, Style)> {
    fn unwrap_or_default_str(self) -> (String, Style) {
        self.unwrap_or((String::new(), Style::Double))
    }
}

/// yaml.v2's key order: numbers (and bools) by value, before strings;
/// strings letter by letter, runs of digits by their number.
fn key_less(a: &Key, b: &Key) -> Ordering {
    fn num(k: &Key) -> Option<f64> {
        match k {
            Key::Int(i) => Some(*i as f64),
            Key::Uint(u) => Some(*u as f64),
            Key::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Key::Str(_) => None,
        }
    }
    match (num(a), num(b)) {
        (Some(x), Some(y)) => return x.partial_cmp(&y).unwrap_or(Ordering::Equal).then(a.cmp(b)),
        (Some(_), None) => return Ordering::Less,
        (None, Some(_)) => return Ordering::Greater,
        _ => {}
    }
    let (Key::Str(a), Key::Str(b)) = (a, b) else {
        return Ordering::Equal;
    };
    let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && ar[ai].is_ascii_digit() {
            an = an
                .wrapping_mul(10)
                .wrapping_add(i64::from(ar[ai] as u8 - b'0'));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && br[bi].is_ascii_digit() {
            bn = bn
                .wrapping_mul(10)
                .wrapping_add(i64::from(br[bi] as u8 - b'0'));
            bi += 1;
        }
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

fn is_break(c: char) -> bool {
    matches!(c, '\r' | '\n' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// libyaml's `is_printable` (as yaml.v2 has it: no characters beyond the
/// Basic Multilingual Plane).
fn is_printable(c: char) -> bool {
    matches!(c, '\n' | '\u{20}'..='\u{7E}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        && c != '\u{FEFF}'
}

struct Analysis {
    multiline: bool,
    block_plain: bool,
    single: bool,
    block: bool,
}

fn analyze(v: &str) -> Analysis {
    if v.is_empty() {
        return Analysis {
            multiline: false,
            block_plain: true,
            single: true,
            block: false,
        };
    }
    let chars: Vec<char> = v.chars().collect();
    let mut block_ind = v.starts_with("---") || v.starts_with("...");
    let (mut line_breaks, mut special) = (false, false);
    let (mut leading_space, mut leading_break, mut trailing_space, mut trailing_break) =
        (false, false, false, false);
    let (mut break_space, mut space_break) = (false, false);
    let (mut prev_space, mut prev_break) = (false, false);
    let mut preceded_ws = true;
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let followed_ws = next.is_none_or(|n| n == ' ' || n == '\t' || is_break(n));
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => block_ind = true,
                '?' | ':' if followed_ws => block_ind = true,
                '-' if followed_ws => block_ind = true,
                _ => {}
            }
        } else {
            match c {
                ':' if followed_ws => block_ind = true,
                '#' if preceded_ws => block_ind = true,
                _ => {}
            }
        }
        if !is_printable(c) {
            special = true;
        }
        let last = i + 1 == chars.len();
        if c == ' ' {
            leading_space |= i == 0;
            trailing_space |= last;
            break_space |= prev_break;
            prev_space = true;
            prev_break = false;
        } else if is_break(c) {
            line_breaks = true;
            leading_break |= i == 0;
            trailing_break |= last;
            space_break |= prev_space;
            prev_space = false;
            prev_break = true;
        } else {
            prev_space = false;
            prev_break = false;
        }
        preceded_ws = c == ' ' || c == '\t' || is_break(c);
    }
    let mut a = Analysis {
        multiline: line_breaks,
        block_plain: true,
        single: true,
        block: true,
    };
    if leading_space || leading_break || trailing_space || trailing_break {
        a.block_plain = false;
    }
    if trailing_space {
        a.block = false;
    }
    if break_space {
        a.block_plain = false;
        a.single = false;
    }
    if space_break || special {
        a.block_plain = false;
        a.single = false;
        a.block = false;
    }
    if line_breaks || block_ind {
        a.block_plain = false;
    }
    a
}

impl Emitter {
    fn put(&mut self, c: char) {
        self.out.push(c);
        if c == '\n' {
            self.column = 0;
        } else {
            self.column += 1;
        }
    }

    fn put_str(&mut self, s: &str) {
        for c in s.chars() {
            self.put(c);
        }
    }

    fn write_indent(&mut self, indent: usize) {
        if !self.indention || self.column > indent || (self.column == indent && !self.whitespace) {
            self.put('\n');
        }
        while self.column < indent {
            self.put(' ');
        }
        self.whitespace = true;
        self.indention = true;
    }

    fn indicator(&mut self, s: &str, need_ws: bool, is_ws: bool, is_indention: bool) {
        if need_ws && !self.whitespace {
            self.put(' ');
        }
        self.put_str(s);
        self.whitespace = is_ws;
        self.indention = self.indention && is_indention;
    }

    fn scalar(&mut self, text: &str, want: Style, simple_key: bool, indent: usize) {
        let a = analyze(text);
        let mut style = want;
        if simple_key && a.multiline {
            style = Style::Double;
        }
        if style == Style::Plain && (!a.block_plain || (text.is_empty() && simple_key)) {
            style = Style::Single;
        }
        if style == Style::Single && !a.single {
            style = Style::Double;
        }
        if style == Style::Literal && (!a.block || simple_key) {
            style = Style::Double;
        }
        let allow_breaks = !simple_key;
        let chars: Vec<char> = text.chars().collect();
        match style {
            Style::Plain => {
                if !self.whitespace {
                    self.put(' ');
                }
                let mut spaces = false;
                for (i, &c) in chars.iter().enumerate() {
                    if c == ' ' {
                        if allow_breaks
                            && !spaces
                            && self.column > BEST_WIDTH
                            && chars.get(i + 1) != Some(&' ')
                        {
                            self.write_indent(indent);
                        } else {
                            self.put(c);
                        }
                        spaces = true;
                    } else {
                        self.put(c);
                        spaces = false;
                    }
                    self.indention = false;
                }
                self.whitespace = false;
                self.indention = false;
            }
            Style::Single => {
                self.indicator("'", true, false, false);
                let (mut spaces, mut breaks) = (false, false);
                for (i, &c) in chars.iter().enumerate() {
                    if c == ' ' {
                        if allow_breaks
                            && !spaces
                            && self.column > BEST_WIDTH
                            && i > 0
                            && i + 1 < chars.len()
                            && chars[i + 1] != ' '
                        {
                            self.write_indent(indent);
                        } else {
                            self.put(c);
                        }
                        spaces = true;
                    } else if is_break(c) {
                        if !breaks && c == '\n' {
                            self.put('\n');
                        }
                        self.put('\n');
                        self.indention = true;
                        breaks = true;
                    } else {
                        if breaks {
                            self.write_indent(indent);
                        }
                        if c == '\'' {
                            self.put('\'');
                        }
                        self.put(c);
                        self.indention = false;
                        spaces = false;
                        breaks = false;
                    }
                }
                self.indicator("'", false, false, false);
            }
            Style::Double => {
                self.indicator("\"", true, false, false);
                let mut spaces = false;
                for (i, &c) in chars.iter().enumerate() {
                    if !is_printable(c) || c == '\u{FEFF}' || is_break(c) || c == '"' || c == '\\' {
                        self.put('\\');
                        match c {
                            '\0' => self.put('0'),
                            '\u{7}' => self.put('a'),
                            '\u{8}' => self.put('b'),
                            '\t' => self.put('t'),
                            '\n' => self.put('n'),
                            '\u{b}' => self.put('v'),
                            '\u{c}' => self.put('f'),
                            '\r' => self.put('r'),
                            '\u{1b}' => self.put('e'),
                            '"' => self.put('"'),
                            '\\' => self.put('\\'),
                            '\u{85}' => self.put('N'),
                            '\u{A0}' => self.put('_'),
                            '\u{2028}' => self.put('L'),
                            '\u{2029}' => self.put('P'),
                            c if (c as u32) <= 0xFF => self.put_str(&format!("x{:02X}", c as u32)),
                            c if (c as u32) <= 0xFFFF => {
                                self.put_str(&format!("u{:04X}", c as u32))
                            }
                            c => self.put_str(&format!("U{:08X}", c as u32)),
                        }
                        spaces = false;
                    } else if c == ' ' {
                        if allow_breaks
                            && !spaces
                            && self.column > BEST_WIDTH
                            && i > 0
                            && i + 1 < chars.len()
                        {
                            self.write_indent(indent);
                            if chars[i + 1] == ' ' {
                                self.put('\\');
                            }
                        } else {
                            self.put(c);
                        }
                        spaces = true;
                    } else {
                        self.put(c);
                        spaces = false;
                    }
                }
                self.indicator("\"", false, false, false);
            }
            Style::Literal => {
                self.indicator("|", true, false, false);
                if chars.first().is_some_and(|&c| c == ' ' || is_break(c)) {
                    self.indicator(&BEST_INDENT.to_string(), false, false, false);
                }
                let n = chars.len();
                let chomp = if n == 0 || !is_break(chars[n - 1]) {
                    Some('-')
                } else if n == 1 || is_break(chars[n - 2]) {
                    Some('+')
                } else {
                    None
                };
                if let Some(c) = chomp {
                    self.indicator(&c.to_string(), false, false, false);
                }
                self.put('\n');
                self.indention = true;
                self.whitespace = true;
                let mut breaks = true;
                for &c in &chars {
                    if is_break(c) {
                        self.put('\n');
                        self.indention = true;
                        breaks = true;
                    } else {
                        if breaks {
                            self.write_indent(indent);
                        }
                        self.put(c);
                        self.indention = false;
                        breaks = false;
                    }
                }
            }
        }
    }

    /// Emits `v`; `parent` is the indent of the enclosing block (-1 at the top).
    fn node(&mut self, v: &Value, parent: isize, ctx: Ctx, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        // The indent of a block collection, and of a scalar's continuation lines.
        let inner = if parent < 0 {
            0
        } else {
            parent as usize + BEST_INDENT
        };
        let scalar_indent = if parent < 0 {
            BEST_INDENT
        } else {
            parent as usize + BEST_INDENT
        };
        match v {
            Value::List(l) if l.items.is_empty() => self.indicator("[]", true, false, false),
            Value::List(l) => {
                // A sequence as a mapping value is not indented.
                let ind = if ctx == Ctx::MapValue {
                    parent.max(0) as usize
                } else {
                    inner
                };
                for item in &l.items {
                    self.write_indent(ind);
                    self.indicator("-", true, false, true);
                    self.node(item, ind as isize, Ctx::SeqItem, depth + 1)?;
                }
            }
            Value::Map(m) if m.entries.is_empty() => self.indicator("{}", true, false, false),
            Value::Map(m) => {
                let mut keys: Vec<&Key> = m.entries.keys().collect();
                keys.sort_by(|a, b| key_less(a, b));
                for k in keys {
                    self.write_indent(inner);
                    let (text, style) = key_text(k);
                    self.scalar(&text, style, true, inner + BEST_INDENT);
                    self.indicator(":", false, false, false);
                    if let Some(val) = m.entries.get(k) {
                        self.node(val, inner as isize, Ctx::MapValue, depth + 1)?;
                    }
                }
            }
            Value::Struct(s) => {
                if s.fields.is_empty() {
                    self.indicator("{}", true, false, false);
                }
                for (name, val) in s.ty.fields.iter().zip(&s.fields) {
                    self.write_indent(inner);
                    let key = crate::helpers::text::to_lower(name);
                    self.scalar(&key, Style::Plain, true, inner + BEST_INDENT);
                    self.indicator(":", false, false, false);
                    self.node(val, inner as isize, Ctx::MapValue, depth + 1)?;
                }
            }
            other => {
                let (text, style) = scalar(other).unwrap_or_default_str();
                self.scalar(&text, style, false, scalar_indent);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_naturally() {
        let mut keys: Vec<Key> = ["k10", "k2", "b", "a1", "1"]
            .iter()
            .map(|s| Key::from(*s))
            .collect();
        keys.push(Key::Int(3));
        keys.sort_by(key_less);
        let names: Vec<String> = keys.iter().map(|k| format!("{k:?}")).collect();
        assert_eq!(names[0], "Int(3)");
        assert_eq!(
            names[1..].join(","),
            r#"Str("1"),Str("a1"),Str("b"),Str("k2"),Str("k10")"#
        );
    }
}
