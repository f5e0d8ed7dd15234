//! `toTOML`: the output of BurntSushi/toml's encoder (what consul-template
//! uses): plain keys first, then tables (`[a]`, `[a.b]` indented two
//! spaces a level) and arrays of tables (`[[a]]`), each group sorted.

use gotemplate::{FuncError, Funcs, Key, Value};

use super::MAX_DEPTH;

pub(super) fn install(funcs: &mut Funcs) {
    funcs.add_fixed("toTOML", 1, |a| {
        let out = to_toml(&a[0]).map_err(|e| FuncError::Call(format!("toTOML: {e}")))?;
        Ok(Value::from(out.trim()))
    });
}

const INDENT: &str = "  ";

struct Enc {
    out: String,
}

fn quoted(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn key_part(out: &mut String, k: &str) {
    if k.is_empty() {
        out.push_str("\"\"");
    } else if k
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        out.push_str(k);
    } else {
        quoted(out, k);
    }
}

fn key_path(path: &[String]) -> String {
    let mut s = String::new();
    for (i, p) in path.iter().enumerate() {
        if i > 0 {
            s.push('.');
        }
        key_part(&mut s, p);
    }
    s
}

fn is_table(v: &Value) -> bool {
    matches!(v, Value::Map(_) | Value::Struct(_))
}

fn is_table_array(v: &Value) -> Result<bool, String> {
    let Value::List(l) = v else { return Ok(false) };
    if l.items.is_empty() {
        return Ok(false);
    }
    if l.items.iter().any(Value::is_nil) {
        return Err("toml: cannot encode array with nil element".into());
    }
    Ok(l.items.iter().all(is_table))
}

/// The entries of a table: (key, value), or an error for a non-string key.
fn entries(v: &Value) -> Result<Vec<(String, &Value)>, String> {
    match v {
        Value::Map(m) => m
            .entries
            .iter()
            .map(|(k, v)| match k {
                Key::Str(s) => Ok((s.to_string(), v)),
                _ => Err("toml: cannot encode a map with non-string key type".to_string()),
            })
            .collect(),
        Value::Struct(s) => Ok(s
            .ty
            .fields
            .iter()
            .zip(&s.fields)
            .map(|(k, v)| (k.to_string(), v))
            .collect()),
        _ => Err("toml: top-level values must be Go maps or structs".into()),
    }
}

/// Encodes a map or struct as TOML.
pub fn to_toml(v: &Value) -> Result<String, String> {
    let mut e = Enc { out: String::new() };
    e.table(&[], v, 0)?;
    Ok(e.out)
}

impl Enc {
    fn newline(&mut self) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
    }

    fn indent(&mut self, depth: usize) {
        for _ in 1..depth {
            self.out.push_str(INDENT);
        }
    }

    fn table(&mut self, path: &[String], v: &Value, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("toml: nesting deeper than {MAX_DEPTH} levels"));
        }
        let mut direct = Vec::new();
        let mut sub = Vec::new();
        let is_map = matches!(v, Value::Map(_));
        for (k, val) in entries(v)? {
            if is_table(val) || is_table_array(val)? {
                sub.push((k, val));
            } else {
                direct.push((k, val));
            }
        }
        if is_map {
            direct.sort_by(|a, b| a.0.cmp(&b.0));
            sub.sort_by(|a, b| a.0.cmp(&b.0));
        }
        for (k, val) in direct.into_iter().chain(sub) {
            if val.is_nil() {
                continue;
            }
            let mut p = path.to_vec();
            p.push(k);
            self.encode(&p, val, depth + 1)?;
        }
        Ok(())
    }

    fn encode(&mut self, path: &[String], v: &Value, depth: usize) -> Result<(), String> {
        if is_table(v) {
            if path.len() == 1 {
                self.newline();
            }
            self.indent(path.len());
            self.out.push('[');
            self.out.push_str(&key_path(path));
            self.out.push(']');
            self.newline();
            return self.table(path, v, depth);
        }
        if is_table_array(v)? {
            if let Value::List(l) = v {
                for item in &l.items {
                    self.newline();
                    self.indent(path.len());
                    self.out.push_str("[[");
                    self.out.push_str(&key_path(path));
                    self.out.push_str("]]");
                    self.newline();
                    self.table(path, item, depth)?;
                }
            }
            return Ok(());
        }
        self.indent(path.len());
        if let Some(last) = path.last() {
            key_part(&mut self.out, last);
        }
        self.out.push_str(" = ");
        self.element(v, depth)?;
        self.newline();
        Ok(())
    }

    fn element(&mut self, v: &Value, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err(format!("toml: nesting deeper than {MAX_DEPTH} levels"));
        }
        match v {
            Value::Str(s) => quoted(&mut self.out, s),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Int(i) => self.out.push_str(&i.to_string()),
            Value::Uint(u) => self.out.push_str(&u.to_string()),
            Value::Float(f) => {
                if f.is_nan() {
                    self.out.push_str("nan");
                } else if f.is_infinite() {
                    self.out.push_str(if *f < 0.0 { "-inf" } else { "+inf" });
                } else {
                    let s = format!("{f}");
                    self.out.push_str(&s);
                    if !s.contains('.') {
                        self.out.push_str(".0");
                    }
                }
            }
            Value::List(l) => {
                self.out.push('[');
                for (i, item) in l.items.iter().enumerate() {
                    if item.is_nil() {
                        return Err("toml: cannot encode array with nil element".into());
                    }
                    self.element(item, depth + 1)?;
                    if i + 1 < l.items.len() {
                        self.out.push_str(", ");
                    }
                }
                self.out.push(']');
            }
            Value::Map(_) | Value::Struct(_) => {
                let mut fields = entries(v)?;
                if matches!(v, Value::Map(_)) {
                    fields.sort_by(|a, b| a.0.cmp(&b.0));
                }
                self.out.push('{');
                let fields: Vec<_> = fields.into_iter().filter(|(_, v)| !v.is_nil()).collect();
                for (i, (k, val)) in fields.iter().enumerate() {
                    key_part(&mut self.out, k);
                    self.out.push_str(" = ");
                    self.element(val, depth + 1)?;
                    if i + 1 < fields.len() {
                        self.out.push_str(", ");
                    }
                }
                self.out.push('}');
            }
            Value::Missing | Value::Nil => {}
            Value::Object(_) => return Err("toml: unsupported type: ptr".into()),
        }
        Ok(())
    }
}
