//! Consul's `?filter=` expressions (go-bexpr): parsing, selector validation
//! against the shape of an endpoint's entries, and evaluation over the JSON
//! form of each entry.
//!
//! Supported: `==`, `!=`, `is empty`, `is not empty`, `in`, `not in`,
//! `contains`, `not contains`, `matches`, `not matches`, `and`, `or`, `not`
//! and parentheses. Selectors are dotted (`Service.Meta.env`) or indexed
//! (`Meta["key.with.dots"]`); values are bare words, `"quoted"` or
//! `` `raw` ``. A selector that crosses a list (`Checks.Status`) matches when
//! any element matches.
//!
//! Every expression is bounded: at most [`MAX_DEPTH`] levels of parentheses
//! and `not`, and at most [`MAX_MATCHES`] comparisons, so that neither the
//! parser (recursive descent) nor evaluation (over every entry of an answer)
//! can exhaust the stack or a thread's time. `a and b and c ...` is one level.

use regex::Regex;
use serde_json::Value;

/// Deepest nesting of parentheses and `not` accepted.
pub const MAX_DEPTH: usize = 64;
/// Most comparisons (`Selector == value`, `value in Selector`, ...) in one expression.
pub const MAX_MATCHES: usize = 512;

/// A parsed filter expression.
#[derive(Debug, Clone)]
pub struct Filter {
    expr: Expr,
}

#[derive(Debug, Clone)]
enum Expr {
    /// Every term matches (`a and b and c` is one node: chains stay shallow).
    And(Vec<Expr>),
    /// Any term matches.
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Match {
        selector: Vec<String>,
        op: Op,
        negate: bool,
    },
}

#[derive(Debug, Clone)]
enum Op {
    Equal(String),
    Empty,
    In(String),
    Matches(Regex),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Eq,
    Ne,
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
}

fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token::LParen);
                i += 1;
            }
            ')' => {
                out.push(Token::RParen);
                i += 1;
            }
            '[' => {
                out.push(Token::LBracket);
                i += 1;
            }
            ']' => {
                out.push(Token::RBracket);
                i += 1;
            }
            '.' => {
                out.push(Token::Dot);
                i += 1;
            }
            '=' if chars.get(i + 1) == Some(&'=') => {
                out.push(Token::Eq);
                i += 2;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Token::Ne);
                i += 2;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string: add the closing '\"'".into()),
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let esc = chars.get(i + 1).ok_or("unterminated escape in string")?;
                            s.push(match esc {
                                'n' => '\n',
                                't' => '\t',
                                other => *other,
                            });
                            i += 2;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Str(s));
            }
            '`' => {
                let start = i + 1;
                let end = chars[start..]
                    .iter()
                    .position(|ch| *ch == '`')
                    .ok_or("unterminated raw string: add the closing '`'")?;
                out.push(Token::Str(chars[start..start + end].iter().collect()));
                i = start + end + 1;
            }
            c if is_word_char(c) => {
                let start = i;
                while i < chars.len() && is_word_char(chars[i]) {
                    i += 1;
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => return Err(format!("unexpected character {other:?} at offset {i}")),
        }
    }
    Ok(out)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | ':' | '/' | '+' | '@')
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// Parentheses and `not` entered and not yet left.
    depth: usize,
    /// Comparisons parsed so far.
    matches: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(x)) if x == w)
    }

    fn peek_word_at(&self, offset: usize, w: &str) -> bool {
        matches!(self.tokens.get(self.pos + offset), Some(Token::Word(x)) if x == w)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.and()?];
        while self.peek_word("or") {
            self.pos += 1;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.swap_remove(0)
        } else {
            Expr::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.not()?];
        while self.peek_word("and") {
            self.pos += 1;
            terms.push(self.not()?);
        }
        Ok(if terms.len() == 1 {
            terms.swap_remove(0)
        } else {
            Expr::And(terms)
        })
    }

    /// Enters one level of parentheses or `not`, refusing to go deeper than [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "expression nested more than {MAX_DEPTH} levels deep (parentheses and 'not'): \
                 the limit is {MAX_DEPTH}; flatten it (a and b and c needs no parentheses)"
            ));
        }
        Ok(())
    }

    fn not(&mut self) -> Result<Expr, String> {
        if self.peek_word("not") {
            self.pos += 1;
            self.enter()?;
            let e = self.not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        self.primary()
    }

    /// Counts one comparison, refusing more than [`MAX_MATCHES`].
    fn count_match(&mut self) -> Result<(), String> {
        self.matches += 1;
        if self.matches > MAX_MATCHES {
            return Err(format!(
                "expression has more than {MAX_MATCHES} comparisons: the limit is {MAX_MATCHES}; \
                 use 'in' or 'matches' to test many values at once"
            ));
        }
        Ok(())
    }

    fn primary(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Token::LParen) {
            self.pos += 1;
            self.enter()?;
            let e = self.or()?;
            self.depth -= 1;
            match self.next() {
                Some(Token::RParen) => return Ok(e),
                _ => return Err("missing ')'".into()),
            }
        }
        self.count_match()?;
        // `<value> [not] in <selector>`
        let value_first = self.peek_word_at(1, "in")
            || (self.peek_word_at(1, "not") && self.peek_word_at(2, "in"));
        if value_first {
            let value = self.value()?;
            let negate = self.peek_word("not");
            if negate {
                self.pos += 1;
            }
            self.pos += 1; // `in`
            let selector = self.selector()?;
            return Ok(Expr::Match {
                selector,
                op: Op::In(value),
                negate,
            });
        }
        let selector = self.selector()?;
        match self.next() {
            Some(Token::Eq) => Ok(Expr::Match {
                selector,
                op: Op::Equal(self.value()?),
                negate: false,
            }),
            Some(Token::Ne) => Ok(Expr::Match {
                selector,
                op: Op::Equal(self.value()?),
                negate: true,
            }),
            Some(Token::Word(w)) if w == "is" => {
                let negate = self.peek_word("not");
                if negate {
                    self.pos += 1;
                }
                match self.next() {
                    Some(Token::Word(w)) if w == "empty" => Ok(Expr::Match {
                        selector,
                        op: Op::Empty,
                        negate,
                    }),
                    _ => Err("expected 'empty' after 'is'".into()),
                }
            }
            Some(Token::Word(w)) if w == "not" || w == "contains" || w == "matches" => {
                let (negate, op) = if w == "not" {
                    match self.next() {
                        Some(Token::Word(o)) if o == "contains" || o == "matches" => (true, o),
                        _ => return Err("expected 'contains' or 'matches' after 'not'".into()),
                    }
                } else {
                    (false, w)
                };
                let value = self.value()?;
                let op = if op == "contains" {
                    Op::In(value)
                } else {
                    Op::Matches(
                        Regex::new(&value)
                            .map_err(|e| format!("invalid regular expression: {e}"))?,
                    )
                };
                Ok(Expr::Match {
                    selector,
                    op,
                    negate,
                })
            }
            Some(t) => Err(format!(
                "unexpected {t:?} after selector: use ==, !=, is empty, contains, matches or in"
            )),
            None => Err("expression ends after a selector: add an operator and a value".into()),
        }
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(w)) | Some(Token::Str(w)) => Ok(w),
            Some(t) => Err(format!("expected a value, found {t:?}")),
            None => Err("expected a value at the end of the expression".into()),
        }
    }

    fn selector(&mut self) -> Result<Vec<String>, String> {
        let mut parts = match self.next() {
            Some(Token::Word(w)) => vec![w],
            Some(t) => return Err(format!("expected a selector, found {t:?}")),
            None => return Err("expected a selector".into()),
        };
        loop {
            match self.peek() {
                Some(Token::Dot) => {
                    self.pos += 1;
                    match self.next() {
                        Some(Token::Word(w)) => parts.push(w),
                        _ => return Err("expected a field name after '.'".into()),
                    }
                }
                Some(Token::LBracket) => {
                    self.pos += 1;
                    let key = match self.next() {
                        Some(Token::Str(s)) | Some(Token::Word(s)) => s,
                        _ => return Err("expected a quoted key inside '[ ]'".into()),
                    };
                    if self.next() != Some(Token::RBracket) {
                        return Err("missing ']'".into());
                    }
                    parts.push(key);
                }
                _ => return Ok(parts),
            }
        }
    }
}

impl Filter {
    /// Parses `expr` and checks every selector against `shape`, a sample
    /// entry in which an object holding the key `"*"` stands for a map with
    /// user keys.
    pub fn parse(expr: &str, shape: &Value) -> Result<Filter, String> {
        let tokens = tokenize(expr)?;
        if tokens.is_empty() {
            return Err("empty expression".into());
        }
        let mut p = Parser {
            tokens,
            pos: 0,
            depth: 0,
            matches: 0,
        };
        let e = p.or()?;
        if p.pos < p.tokens.len() {
            return Err(format!(
                "unexpected {:?} at the end of the expression",
                p.tokens[p.pos]
            ));
        }
        validate(&e, shape)?;
        Ok(Filter { expr: e })
    }

    /// Whether the JSON form of an entry matches.
    pub fn matches(&self, entry: &Value) -> bool {
        eval(&self.expr, entry)
    }
}

fn validate(e: &Expr, shape: &Value) -> Result<(), String> {
    match e {
        Expr::And(terms) | Expr::Or(terms) => terms.iter().try_for_each(|t| validate(t, shape)),
        Expr::Not(a) => validate(a, shape),
        Expr::Match { selector, .. } => {
            let mut cur = shape;
            for (i, part) in selector.iter().enumerate() {
                while let Value::Array(items) = cur {
                    match items.first() {
                        Some(first) => cur = first,
                        None => break,
                    }
                }
                match cur {
                    Value::Object(map) if map.contains_key("*") => return Ok(()),
                    Value::Object(map) => match map.get(part) {
                        Some(v) => cur = v,
                        None => {
                            return Err(format!(
                                "Selector {:?} is not valid: {:?} has no field {part:?}",
                                selector.join("."),
                                if i == 0 {
                                    "entry".to_string()
                                } else {
                                    selector[..i].join(".")
                                }
                            ))
                        }
                    },
                    _ => {
                        return Err(format!(
                            "Selector {:?} is not valid: {:?} has no fields",
                            selector.join("."),
                            selector[..i].join(".")
                        ))
                    }
                }
            }
            Ok(())
        }
    }
}

/// Every value the selector reaches (lists fan out).
fn resolve<'a>(v: &'a Value, path: &[String], out: &mut Vec<&'a Value>) {
    match (path.split_first(), v) {
        (None, _) => out.push(v),
        (Some(_), Value::Array(items)) => {
            for item in items {
                resolve(item, path, out);
            }
        }
        (Some((head, rest)), Value::Object(map)) => {
            if let Some(next) = map.get(head) {
                resolve(next, rest, out);
            }
        }
        _ => {}
    }
}

fn scalar_eq(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        Value::Number(n) => {
            n.to_string() == want
                || want
                    .parse::<f64>()
                    .ok()
                    .zip(n.as_f64())
                    .is_some_and(|(a, b)| a == b)
        }
        Value::Bool(b) => want.parse::<bool>().is_ok_and(|w| w == *b),
        Value::Null => want.is_empty(),
        _ => false,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn contains(v: &Value, needle: &str) -> bool {
    match v {
        Value::Array(items) => items.iter().any(|i| scalar_eq(i, needle)),
        Value::Object(map) => map.contains_key(needle),
        Value::String(s) => s.contains(needle),
        _ => false,
    }
}

fn eval(e: &Expr, entry: &Value) -> bool {
    match e {
        Expr::And(terms) => terms.iter().all(|t| eval(t, entry)),
        Expr::Or(terms) => terms.iter().any(|t| eval(t, entry)),
        Expr::Not(a) => !eval(a, entry),
        Expr::Match {
            selector,
            op,
            negate,
        } => {
            let mut found = Vec::new();
            // `In` on a list wants the list itself, not its elements.
            if matches!(op, Op::In(_) | Op::Empty) {
                resolve_container(entry, selector, &mut found);
            } else {
                resolve(entry, selector, &mut found);
            }
            let hit = match op {
                Op::Equal(want) => found.iter().any(|v| scalar_eq(v, want)),
                Op::Empty => found.is_empty() || found.iter().all(|v| is_empty(v)),
                Op::In(needle) => found.iter().any(|v| contains(v, needle)),
                Op::Matches(re) => found
                    .iter()
                    .any(|v| v.as_str().is_some_and(|s| re.is_match(s))),
            };
            hit != *negate
        }
    }
}

/// Like [`resolve`], but a list at the end of the path is kept whole.
fn resolve_container<'a>(v: &'a Value, path: &[String], out: &mut Vec<&'a Value>) {
    match (path.split_first(), v) {
        (None, _) => out.push(v),
        (Some(_), Value::Array(items)) => {
            for item in items {
                resolve_container(item, path, out);
            }
        }
        (Some((head, rest)), Value::Object(map)) => {
            if let Some(next) = map.get(head) {
                resolve_container(next, rest, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
