//! Finding the line of a value inside a definition file's text.
//!
//! `serde_json` and `hcl` hand over plain values without positions, so a
//! semantic problem ("missing service name", "interval must be > 0") only
//! knows its path in the document: `services[1].checks[0].interval`. This
//! module walks the original text along that path and returns the line where
//! the value (or its key) starts, so every problem can be reported as
//! `file:line: message`. Keys match as [`canon`] compares them, the way
//! Consul's decoder does; when a step cannot be followed, the line of the
//! deepest step found is returned.

use hcl::edit::expr::{Expression, ObjectKey};
use hcl::edit::structure::{Body, Structure};
use hcl::edit::Span;

/// One step of a path into a definition document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    /// An object key (or an HCL attribute or block name).
    Key(String),
    /// A list element; index 0 also names a lone object used in place of a list.
    Index(usize),
}

/// A key as Consul compares it: lower case, without `_` and `-`
/// (`EnableTagOverride`, `enable_tag_override` and `enableTagOverride` are one key).
pub(crate) fn canon(key: &str) -> String {
    key.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The 1-based line of byte `offset` in `text`.
pub(crate) fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The line of the value at `path` in a JSON document (which must be valid JSON).
pub(crate) fn json_line(text: &str, path: &[Seg]) -> usize {
    line_of_offset(text, JsonCursor::new(text).locate(path))
}

/// The line of the value at `path` in an HCL document; 1 if it does not parse.
pub(crate) fn hcl_line(text: &str, path: &[Seg]) -> usize {
    match hcl::edit::parser::parse_body(text) {
        Ok(body) => line_of_offset(text, locate_hcl(&body, path).unwrap_or(0)),
        Err(_) => 1,
    }
}

struct JsonCursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> JsonCursor<'a> {
    fn new(text: &'a str) -> Self {
        JsonCursor {
            s: text.as_bytes(),
            i: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    /// Reads a string starting at `"`; returns its raw content (escapes left as they are).
    fn string(&mut self) -> &'a str {
        let start = self.i + 1;
        self.i += 1;
        while let Some(b) = self.peek() {
            match b {
                b'\\' => self.i += 2,
                b'"' => {
                    let raw = &self.s[start..self.i];
                    self.i += 1;
                    return std::str::from_utf8(raw).unwrap_or("");
                }
                _ => self.i += 1,
            }
        }
        ""
    }

    /// Skips one value of any kind.
    fn skip_value(&mut self) {
        self.ws();
        match self.peek() {
            Some(b'"') => {
                self.string();
            }
            Some(b'{') | Some(b'[') => {
                let mut depth = 0usize;
                while let Some(b) = self.peek() {
                    match b {
                        b'"' => {
                            self.string();
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                self.i += 1;
                                return;
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            Some(_) => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.i += 1;
                }
            }
            None => {}
        }
    }

    /// Moves past a `,` if there is one; false at the end of the container.
    fn next_item(&mut self) -> bool {
        self.ws();
        if self.peek() == Some(b',') {
            self.i += 1;
            self.ws();
            true
        } else {
            false
        }
    }

    /// The offset of the value at `path`, or of the deepest step found.
    fn locate(&mut self, path: &[Seg]) -> usize {
        self.ws();
        let mut best = self.i;
        for seg in path {
            self.ws();
            let found = match (seg, self.peek()) {
                (Seg::Key(k), Some(b'{')) => self.find_key(&canon(k)),
                (Seg::Index(n), Some(b'[')) => self.find_index(*n),
                (Seg::Index(0), Some(b'{')) => Some(self.i),
                _ => None,
            };
            match found {
                Some(at) => best = at,
                None => return best,
            }
        }
        best
    }

    /// Inside an object at `{`: positions on the value of `key`, returns where the key starts.
    fn find_key(&mut self, key: &str) -> Option<usize> {
        self.i += 1;
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return None;
            }
            let key_at = self.i;
            let k = self.string();
            self.ws();
            if self.peek() != Some(b':') {
                return None;
            }
            self.i += 1;
            self.ws();
            if canon(k) == key {
                return Some(key_at);
            }
            self.skip_value();
            if !self.next_item() {
                return None;
            }
        }
    }

    /// Inside a list at `[`: positions on element `n`, returns where it starts.
    fn find_index(&mut self, n: usize) -> Option<usize> {
        self.i += 1;
        self.ws();
        if self.peek() == Some(b']') {
            return None;
        }
        for _ in 0..n {
            self.skip_value();
            if !self.next_item() {
                return None;
            }
        }
        self.ws();
        Some(self.i)
    }
}

/// A position in an HCL document while walking a path.
enum HclNode<'a> {
    Body(&'a Body),
    /// Blocks of one name at one level (repeated blocks form a list).
    Blocks(Vec<&'a hcl::edit::structure::Block>),
    Expr(&'a Expression),
}

fn start(span: Option<std::ops::Range<usize>>) -> Option<usize> {
    span.map(|r| r.start)
}

fn locate_hcl(body: &Body, path: &[Seg]) -> Option<usize> {
    let mut node = HclNode::Body(body);
    let mut best = None;
    for seg in path {
        let next = match (&node, seg) {
            (HclNode::Body(b), Seg::Key(k)) => hcl_body_key(b, &canon(k)),
            (HclNode::Blocks(blocks), Seg::Index(n)) => blocks
                .get(*n)
                .map(|b| (HclNode::Body(&b.body), start(b.span()))),
            (HclNode::Expr(Expression::Array(a)), Seg::Index(n)) => {
                a.get(*n).map(|e| (HclNode::Expr(e), start(e.span())))
            }
            (HclNode::Expr(e @ Expression::Object(_)), Seg::Index(0)) => {
                Some((HclNode::Expr(e), start(e.span())))
            }
            (HclNode::Expr(Expression::Object(o)), Seg::Key(k)) => {
                let want = canon(k);
                o.iter().find_map(|(key, value)| {
                    let name = match key {
                        ObjectKey::Ident(i) => i.as_str().to_string(),
                        ObjectKey::Expression(Expression::String(s)) => s.as_str().to_string(),
                        ObjectKey::Expression(_) => return None,
                    };
                    (canon(&name) == want).then(|| (HclNode::Expr(value.expr()), start(key.span())))
                })
            }
            _ => None,
        };
        match next {
            Some((n, at)) => {
                node = n;
                best = at.or(best);
            }
            None => break,
        }
    }
    best
}

/// An attribute or the blocks called `key` in `body`.
fn hcl_body_key<'a>(body: &'a Body, key: &str) -> Option<(HclNode<'a>, Option<usize>)> {
    let mut blocks = Vec::new();
    for s in body.iter() {
        match s {
            Structure::Attribute(a) if canon(a.key.as_str()) == key => {
                return Some((HclNode::Expr(&a.value), start(a.span())));
            }
            Structure::Block(b) if canon(b.ident.as_str()) == key => blocks.push(b),
            _ => {}
        }
    }
    let first = start(blocks.first()?.span());
    Some((HclNode::Blocks(blocks), first))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Seg {
        Seg::Key(k.into())
    }

    #[test]
    fn json_paths_find_their_lines() {
        let text = r#"{
  "services": [
    {"name": "a"},
    {
      "Name": "b",
      "checks": [
        {"ttl": "1s"},
        {"http": "http://x", "interval": "0s"}
      ]
    }
  ]
}"#;
        assert_eq!(json_line(text, &[key("services"), Seg::Index(1)]), 4);
        assert_eq!(
            json_line(text, &[key("services"), Seg::Index(1), key("name")]),
            5
        );
        let p = [
            key("services"),
            Seg::Index(1),
            key("checks"),
            Seg::Index(1),
            key("interval"),
        ];
        assert_eq!(json_line(text, &p), 8);
        // A missing key: the deepest step found.
        assert_eq!(
            json_line(text, &[key("services"), Seg::Index(0), key("port")]),
            3
        );
        let lone = "{\n \"service\":\n  {\"id\": \"x\", \"name\": \"a\\\"b\"}\n}";
        assert_eq!(
            json_line(lone, &[key("service"), Seg::Index(0), key("name")]),
            3
        );
    }

    #[test]
    fn hcl_paths_follow_blocks_and_attributes() {
        let text = "services {\n  name = \"a\"\n}\nservices {\n  name = \"b\"\n  checks = [\n    { ttl = \"1s\" },\n    { interval = \"1s\" }\n  ]\n  check {\n    tcp = \"x\"\n  }\n}\n";
        assert_eq!(hcl_line(text, &[key("services"), Seg::Index(1)]), 4);
        assert_eq!(
            hcl_line(text, &[key("services"), Seg::Index(1), key("name")]),
            5
        );
        let p = [
            key("services"),
            Seg::Index(1),
            key("checks"),
            Seg::Index(1),
            key("interval"),
        ];
        assert_eq!(hcl_line(text, &p), 8);
        let c = [
            key("services"),
            Seg::Index(1),
            key("check"),
            Seg::Index(0),
            key("tcp"),
        ];
        assert_eq!(hcl_line(text, &c), 11);
        assert_eq!(canon("Enable_Tag-Override"), "enabletagoverride");
    }
}
