//! YAML as yaml.v2 reads and writes it: `parseYAML` and `toYAML`.

mod emit;
mod resolve;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use gotemplate::{FuncError, Funcs, Key, List, Map, Type, Value, Zero};
use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::TScalarStyle;

use super::MAX_DEPTH;
use crate::args;

pub use emit::to_yaml;

/// `map[interface {}]interface {}`: what yaml.v2 makes of a mapping.
pub static YAML_MAP: Type = Type::named("map[interface {}]interface {}", Zero::Interface);

/// Most nodes a document may expand to through aliases (yaml.v2 refuses
/// "excessive aliasing" too).
pub const MAX_NODES: usize = 1_000_000;

pub(super) fn install(funcs: &mut Funcs) {
    funcs.add_fixed("parseYAML", 1, |a| {
        let s = args::string(&a[0])?;
        if s.is_empty() {
            return Ok(Value::map(Vec::new()));
        }
        parse(s).map_err(FuncError::Call)
    });
    funcs.add_fixed("toYAML", 1, |a| {
        let out = to_yaml(&a[0]).map_err(|e| FuncError::Call(format!("toYAML: {e}")))?;
        Ok(Value::from(out.trim()))
    });
}

enum Frame {
    Seq(Vec<Value>, usize, usize),
    /// Entries, a key waiting for its value, anchor, node count.
    Map(BTreeMap<Key, Value>, Option<Value>, usize, usize),
}

fn key_of(v: &Value, line: usize) -> Result<Key, String> {
    Key::from_value(v).ok_or_else(|| match v {
        Value::Nil | Value::Missing => {
            format!("yaml: line {line}: a null map key is not supported here")
        }
        other => format!(
            "yaml: line {line}: a map key of type {} is not supported here",
            other.type_name()
        ),
    })
}

/// Parses the first YAML document as yaml.v2 does into an `interface{}`.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Value, usize)> = HashMap::new();
    let mut total = 0usize;
    let mut result: Option<Value> = None;
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| format!("yaml: {e}"))?;
        let line = mark.line();
        let (value, anchor, size) = match ev {
            Event::StreamEnd => break,
            Event::DocumentEnd if result.is_some() => break,
            Event::StreamStart | Event::DocumentStart | Event::DocumentEnd | Event::Nothing => {
                continue
            }
            Event::SequenceStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("yaml: nesting deeper than {MAX_DEPTH} levels"));
                }
                stack.push(Frame::Seq(Vec::new(), anchor, 1));
                continue;
            }
            Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(format!("yaml: nesting deeper than {MAX_DEPTH} levels"));
                }
                stack.push(Frame::Map(BTreeMap::new(), None, anchor, 1));
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor, size)) => {
                    (Value::List(Arc::new(List::new(items))), anchor, size)
                }
                _ => return Err("yaml: unbalanced sequence".into()),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(m, _, anchor, size)) => {
                    (Value::Map(Arc::new(Map::typed(m, &YAML_MAP))), anchor, size)
                }
                _ => return Err("yaml: unbalanced mapping".into()),
            },
            Event::Alias(id) => {
                let (v, size) = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| format!("yaml: line {line}: unknown anchor referenced"))?;
                (v, 0, size)
            }
            Event::Scalar(s, style, anchor, tag) => {
                let v = if style != TScalarStyle::Plain {
                    Value::from(s)
                } else {
                    match tag.as_ref().map(|t| (t.handle.as_str(), t.suffix.as_str())) {
                        Some((_, "str")) => Value::from(s),
                        _ => resolve::resolve_plain(&s),
                    }
                };
                (v, anchor, 1)
            }
        };
        total = total.saturating_add(size);
        if total > MAX_NODES {
            return Err("yaml: document contains excessive aliasing".into());
        }
        if anchor > 0 {
            anchors.insert(anchor, (value.clone(), size));
        }
        match stack.last_mut() {
            None => {
                result = Some(value);
            }
            Some(Frame::Seq(items, _, n)) => {
                items.push(value);
                *n = n.saturating_add(size);
            }
            Some(Frame::Map(m, pending, _, n)) => {
                *n = n.saturating_add(size);
                match pending.take() {
                    None => *pending = Some(value),
                    Some(k) => {
                        if matches!(&k, Value::Str(s) if &**s == "<<") {
                            merge_into(m, &value, line)?;
                        } else {
                            m.insert(key_of(&k, line)?, value);
                        }
                    }
                }
            }
        }
    }
    Ok(result.unwrap_or(Value::Nil))
}

/// A `<<` merge key: the entries of a map (or of a list of maps).
fn merge_into(m: &mut BTreeMap<Key, Value>, v: &Value, line: usize) -> Result<(), String> {
    match v {
        Value::Map(src) => {
            for (k, val) in &src.entries {
                m.entry(k.clone()).or_insert_with(|| val.clone());
            }
            Ok(())
        }
        Value::List(l) => {
            for item in &l.items {
                merge_into(m, item, line)?;
            }
            Ok(())
        }
        _ => Err(format!(
            "yaml: line {line}: map merge requires map or sequence of maps as the value"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_bounded() {
        let mut doc = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        let mut prev = 'a';
        for c in 'b'..='k' {
            doc.push_str(&format!("{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"));
            prev = c;
        }
        assert!(parse(&doc).unwrap_err().contains("excessive aliasing"));
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert!(parse(&deep).is_err());
    }
}
