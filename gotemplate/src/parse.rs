//! The parser: Go's `text/template/parse/parse.go`, with its error
//! messages, and one addition: a nesting limit, so that a hostile or
//! generated template can never overflow the stack.

use std::collections::HashMap;
use std::sync::Arc;

use crate::ast::{Arg, Command, Control, List, Node, Number, Pipe};
use crate::error::Error;
use crate::funcs::Funcs;
use crate::lex::{lex, Item, Kind};

/// A parsed template body with its name.
#[derive(Debug)]
pub(crate) struct Tree {
    pub root: List,
}

/// Everything one source defines: the main body and `define`/`block` templates.
pub(crate) type TreeSet = HashMap<String, Arc<Tree>>;

pub(crate) struct Parser<'a> {
    name: &'a str,
    items: Vec<Item>,
    i: usize,
    funcs: &'a Funcs,
    vars: Vec<String>,
    range_depth: usize,
    depth: usize,
    max_depth: usize,
    trees: TreeSet,
}

type PResult<T> = Result<T, Error>;

/// Parses `text` into the trees it defines, the main one named `name`.
pub(crate) fn parse(
    name: &str,
    text: &str,
    left: &str,
    right: &str,
    funcs: &Funcs,
    max_depth: usize,
) -> PResult<TreeSet> {
    let mut p = Parser {
        name,
        items: lex(text, left, right),
        i: 0,
        funcs,
        vars: vec!["$".into()],
        range_depth: 0,
        depth: 0,
        max_depth,
        trees: HashMap::new(),
    };
    let mut root = Vec::new();
    while p.peek().kind != Kind::Eof {
        if p.peek().kind == Kind::LeftDelim {
            let at = p.i;
            p.next();
            if p.next_non_space().kind == Kind::Define {
                p.parse_definition()?;
                continue;
            }
            p.i = at;
        }
        match p.text_or_action()? {
            Parsed::Node(n) => root.push(n),
            Parsed::End(item) => return Err(p.error_at(&item, "unexpected {{end}}".into())),
            Parsed::Else(item) => return Err(p.error_at(&item, "unexpected {{else}}".into())),
            Parsed::Nothing => {}
        }
    }
    p.add(
        name.to_string(),
        root,
        &Item {
            kind: Kind::Eof,
            pos: 0,
            val: String::new(),
            line: 1,
        },
    )?;
    Ok(p.trees)
}

/// What one step of a list gave.
enum Parsed {
    Node(Node),
    End(Item),
    Else(Item),
    Nothing,
}

fn is_empty_tree(list: &List) -> bool {
    list.iter().all(|n| match n {
        Node::Text(t) => t.trim().is_empty(),
        _ => false,
    })
}

impl Parser<'_> {
    fn peek(&self) -> &Item {
        &self.items[self.i.min(self.items.len() - 1)]
    }

    fn next(&mut self) -> Item {
        let item = self.peek().clone();
        self.i += 1;
        item
    }

    fn backup(&mut self) {
        self.i = self.i.saturating_sub(1);
    }

    fn next_non_space(&mut self) -> Item {
        loop {
            let item = self.next();
            if item.kind != Kind::Space {
                return item;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item {
        let item = self.next_non_space();
        self.backup();
        item
    }

    fn error_at(&self, item: &Item, msg: String) -> Error {
        Error::parse(self.name, item.line, msg)
    }

    fn unexpected(&self, item: &Item, context: &str) -> Error {
        if item.kind == Kind::Error {
            return self.error_at(item, item.val.clone());
        }
        self.error_at(item, format!("unexpected {item} in {context}"))
    }

    fn expect(&mut self, kind: Kind, context: &str) -> PResult<Item> {
        let item = self.next_non_space();
        if item.kind != kind {
            return Err(self.unexpected(&item, context));
        }
        Ok(item)
    }

    /// Enters one level of nesting (a block or a parenthesis).
    fn enter(&mut self, item: &Item) -> PResult<()> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(self.error_at(
                item,
                format!(
                    "nesting deeper than {} levels of blocks and parentheses; flatten the template (e.g. with {{{{define}}}})",
                    self.max_depth
                ),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn add(&mut self, name: String, root: List, at: &Item) -> PResult<()> {
        match self.trees.get(&name) {
            Some(old) if !is_empty_tree(&old.root) => {
                if !is_empty_tree(&root) {
                    return Err(self.error_at(
                        at,
                        format!(
                            "template: multiple definition of template {}",
                            crate::fmt::quote(&name)
                        ),
                    ));
                }
            }
            _ => {
                self.trees.insert(name, Arc::new(Tree { root }));
            }
        }
        Ok(())
    }

    fn parse_definition(&mut self) -> PResult<()> {
        let token = self.next_non_space();
        let name = self.template_name(&token, "define clause")?;
        self.expect(Kind::RightDelim, "define clause")?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let (list, end) = self.item_list()?;
        self.vars = saved;
        match end {
            Parsed::End(_) => {}
            Parsed::Else(item) => {
                return Err(self.error_at(&item, "unexpected {{else}} in define clause".into()))
            }
            _ => return Err(self.error_at(&token, "unexpected EOF".into())),
        }
        self.add(name, list, &token)
    }

    fn template_name(&mut self, token: &Item, context: &str) -> PResult<String> {
        match token.kind {
            Kind::String | Kind::RawString => {
                unquote(&token.val).map_err(|e| self.error_at(token, e))
            }
            _ => Err(self.unexpected(token, context)),
        }
    }

    /// Nodes up to `{{end}}` or `{{else}}`.
    fn item_list(&mut self) -> PResult<(List, Parsed)> {
        let mut list = Vec::new();
        while self.peek_non_space().kind != Kind::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.push(n),
                Parsed::Nothing => {}
                end => return Ok((list, end)),
            }
        }
        let item = self.peek().clone();
        Err(self.error_at(&item, "unexpected EOF".into()))
    }

    fn text_or_action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.kind {
            Kind::Text => Ok(Parsed::Node(Node::Text(token.val))),
            Kind::LeftDelim => self.action(),
            Kind::Comment => Ok(Parsed::Nothing),
            _ => Err(self.unexpected(&token, "input")),
        }
    }

    fn action(&mut self) -> PResult<Parsed> {
        let token = self.next_non_space();
        match token.kind {
            Kind::Block => return self.block_control(&token).map(Parsed::Node),
            Kind::Break | Kind::Continue => {
                let word = if token.kind == Kind::Break {
                    "break"
                } else {
                    "continue"
                };
                let next = self.next_non_space();
                if next.kind != Kind::RightDelim {
                    return Err(self.unexpected(&next, &format!("{{{{{word}}}}}")));
                }
                if self.range_depth == 0 {
                    return Err(
                        self.error_at(&token, format!("{{{{{word}}}}} outside {{{{range}}}}"))
                    );
                }
                return Ok(Parsed::Node(if token.kind == Kind::Break {
                    Node::Break
                } else {
                    Node::Continue
                }));
            }
            Kind::Else => {
                // "{{else if ...": the if is parsed by the enclosing control.
                let peek = self.peek_non_space();
                if peek.kind == Kind::If || peek.kind == Kind::With {
                    return Ok(Parsed::Else(token));
                }
                self.expect(Kind::RightDelim, "else")?;
                return Ok(Parsed::Else(token));
            }
            Kind::End => {
                self.expect(Kind::RightDelim, "end")?;
                return Ok(Parsed::End(token));
            }
            Kind::If => {
                return self
                    .control(&token, "if")
                    .map(|c| Parsed::Node(Node::If(c)))
            }
            Kind::Range => {
                return self
                    .control(&token, "range")
                    .map(|c| Parsed::Node(Node::Range(c)))
            }
            Kind::With => {
                return self
                    .control(&token, "with")
                    .map(|c| Parsed::Node(Node::With(c)))
            }
            Kind::Template => return self.template_control(&token).map(Parsed::Node),
            _ => {}
        }
        self.backup();
        // Variables declared by an action persist until the enclosing {{end}}.
        let pipe = self.pipeline("command", Kind::RightDelim)?;
        Ok(Parsed::Node(Node::Action(pipe)))
    }

    fn control(&mut self, token: &Item, context: &str) -> PResult<Control> {
        self.enter(token)?;
        let mark = self.vars.len();
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        if context == "range" {
            self.range_depth += 1;
        }
        let (list, next) = self.item_list()?;
        if context == "range" {
            self.range_depth -= 1;
        }
        let else_list = match next {
            Parsed::End(_) => None,
            Parsed::Else(_) => {
                let chained = match self.peek_non_space().kind {
                    Kind::If if context == "if" => Some(Kind::If),
                    Kind::With if context == "with" => Some(Kind::With),
                    _ => None,
                };
                if let Some(kind) = chained {
                    // "{{else if x}}" is "{{else}}{{if x}}...{{end}}" sharing one {{end}}.
                    let t = self.next_non_space();
                    let c = if kind == Kind::If {
                        Node::If(self.control(&t, "if")?)
                    } else {
                        Node::With(self.control(&t, "with")?)
                    };
                    Some(vec![c])
                } else {
                    let (list, next) = self.item_list()?;
                    match next {
                        Parsed::End(_) => Some(list),
                        Parsed::Else(item) => {
                            return Err(self.error_at(&item, "expected end; found {{else}}".into()))
                        }
                        _ => return Err(self.error_at(token, "unexpected EOF".into())),
                    }
                }
            }
            _ => return Err(self.error_at(token, "unexpected EOF".into())),
        };
        self.vars.truncate(mark);
        self.leave();
        Ok(Control {
            pipe,
            list,
            else_list,
        })
    }

    fn template_control(&mut self, token: &Item) -> PResult<Node> {
        let context = "template clause";
        let name_token = self.next_non_space();
        let name = self.template_name(&name_token, context)?;
        let pipe = if self.next_non_space().kind != Kind::RightDelim {
            self.backup();
            Some(self.pipeline(context, Kind::RightDelim)?)
        } else {
            None
        };
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe,
        })
    }

    fn block_control(&mut self, token: &Item) -> PResult<Node> {
        let context = "block clause";
        let name_token = self.next_non_space();
        let name = self.template_name(&name_token, context)?;
        let pipe = self.pipeline(context, Kind::RightDelim)?;
        self.enter(token)?;
        let saved_vars = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_range = std::mem::replace(&mut self.range_depth, 0);
        let (list, end) = self.item_list()?;
        self.vars = saved_vars;
        self.range_depth = saved_range;
        self.leave();
        match end {
            Parsed::End(_) => {}
            Parsed::Else(item) => {
                return Err(self.error_at(&item, format!("unexpected {{{{else}}}} in {context}")))
            }
            _ => return Err(self.error_at(token, "unexpected EOF".into())),
        }
        self.add(name.clone(), list, token)?;
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn pipeline(&mut self, context: &str, end: Kind) -> PResult<Pipe> {
        let start = self.peek_non_space();
        let mut pipe = Pipe {
            pos: start.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Declarations: "$x :=", "$x =", "$i, $e :=".
        loop {
            let v = self.peek_non_space();
            if v.kind != Kind::Variable {
                break;
            }
            let before = self.i;
            self.next_non_space();
            let after_var = self.peek().clone();
            let next = self.peek_non_space();
            match next.kind {
                Kind::Assign | Kind::Declare => {
                    pipe.is_assign = next.kind == Kind::Assign;
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    break;
                }
                Kind::Char if next.val == "," => {
                    self.next_non_space();
                    pipe.decl.push(v.val.clone());
                    self.vars.push(v.val);
                    if context == "range" && pipe.decl.len() < 2 {
                        match self.peek_non_space().kind {
                            Kind::Variable | Kind::RightDelim | Kind::RightParen => continue,
                            _ => {
                                return Err(self
                                    .error_at(&next, "range can only initialize variables".into()))
                            }
                        }
                    }
                    return Err(self.error_at(&next, format!("too many declarations in {context}")));
                }
                _ => {
                    let _ = after_var;
                    self.i = before;
                    break;
                }
            }
        }
        loop {
            let token = self.next_non_space();
            match token.kind {
                k if k == end => {
                    self.check_pipeline(&pipe, context, &token)?;
                    return Ok(pipe);
                }
                Kind::Bool
                | Kind::CharConstant
                | Kind::Dot
                | Kind::Field
                | Kind::Identifier
                | Kind::Number
                | Kind::Nil
                | Kind::RawString
                | Kind::String
                | Kind::Variable
                | Kind::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return Err(self.unexpected(&token, context)),
            }
        }
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str, at: &Item) -> PResult<()> {
        if pipe.cmds.is_empty() {
            return Err(self.error_at(at, format!("missing value for {context}")));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(Arg::Bool(..) | Arg::Dot(_) | Arg::Nil(_) | Arg::Number(..) | Arg::Str(..))
            ) {
                return Err(self.error_at(
                    at,
                    format!("non executable command in pipeline stage {}", i + 1),
                ));
            }
        }
        Ok(())
    }

    fn command(&mut self) -> PResult<Command> {
        let start = self.peek_non_space();
        let mut cmd = Command {
            pos: start.pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let token = self.next();
            match token.kind {
                Kind::Space => continue,
                Kind::RightDelim | Kind::RightParen => self.backup(),
                Kind::Pipe => {}
                _ => return Err(self.unexpected(&token, "operand")),
            }
            break;
        }
        if cmd.args.is_empty() {
            return Err(self.error_at(&start, "empty command".into()));
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> PResult<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().kind != Kind::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().kind == Kind::Field {
            let f = self.next();
            fields.push(f.val[1..].to_string());
        }
        Ok(Some(match node {
            Arg::Field(p, mut idents) => {
                idents.extend(fields);
                Arg::Field(p, idents)
            }
            Arg::Variable(p, mut idents) => {
                idents.extend(fields);
                Arg::Variable(p, idents)
            }
            Arg::Bool(..) | Arg::Str(..) | Arg::Number(..) | Arg::Nil(_) | Arg::Dot(_) => {
                let item = self.peek().clone();
                return Err(self.error_at(
                    &item,
                    format!(
                        "unexpected . after term {}",
                        crate::fmt::quote(&node.to_string())
                    ),
                ));
            }
            other => Arg::Chain(pos, Box::new(other), fields),
        }))
    }

    fn term(&mut self) -> PResult<Option<Arg>> {
        let token = self.next_non_space();
        Ok(Some(match token.kind {
            Kind::Identifier => match self.funcs.get(&token.val) {
                Some(f) => Arg::Ident(token.pos, token.val, f),
                None => {
                    return Err(self.error_at(
                        &token,
                        format!("function {} not defined", crate::fmt::quote(&token.val)),
                    ))
                }
            },
            Kind::Dot => Arg::Dot(token.pos),
            Kind::Nil => Arg::Nil(token.pos),
            Kind::Variable => {
                let name = token.val.split('.').next().unwrap_or("$");
                if !self.vars.iter().any(|v| v == name) {
                    return Err(self.error_at(
                        &token,
                        format!("undefined variable {}", crate::fmt::quote(name)),
                    ));
                }
                Arg::Variable(token.pos, vec![token.val.clone()])
            }
            Kind::Field => Arg::Field(token.pos, vec![token.val[1..].to_string()]),
            Kind::Bool => Arg::Bool(token.pos, token.val == "true"),
            Kind::CharConstant | Kind::Number => {
                let n = number(&token.val, token.kind).map_err(|e| self.error_at(&token, e))?;
                Arg::Number(token.pos, n)
            }
            Kind::LeftParen => {
                self.enter(&token)?;
                let pipe = self.pipeline("parenthesized pipeline", Kind::RightParen)?;
                self.leave();
                Arg::Pipe(token.pos, Box::new(pipe))
            }
            Kind::String | Kind::RawString => {
                let s = unquote(&token.val).map_err(|e| self.error_at(&token, e))?;
                Arg::Str(token.pos, Arc::from(s), token.val)
            }
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }
}

/// Go's `strconv.Unquote` for "...", `...` and '...': escapes build bytes,
/// so `"\xf0\x9f\x9a\x80"` is one emoji.
pub(crate) fn unquote(text: &str) -> Result<String, String> {
    let bad = || "invalid syntax".to_string();
    if let Some(raw) = text.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
        return Ok(raw.replace('\r', ""));
    }
    let quote = text.chars().next().ok_or_else(bad)?;
    let body = text
        .strip_prefix(quote)
        .and_then(|t| t.strip_suffix(quote))
        .ok_or_else(bad)?;
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or_else(bad)?;
        let push_char = |out: &mut Vec<u8>, c: char| {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        };
        match e {
            'a' => out.push(7),
            'b' => out.push(8),
            'f' => out.push(12),
            'n' => out.push(b'\n'),
            'r' => out.push(b'\r'),
            't' => out.push(b'\t'),
            'v' => out.push(11),
            '\\' => out.push(b'\\'),
            '\'' if quote == '\'' => out.push(b'\''),
            '"' if quote == '"' => out.push(b'"'),
            'x' => {
                let h: String = (0..2).filter_map(|_| chars.next()).collect();
                let v = u8::from_str_radix(&h, 16).map_err(|_| bad())?;
                if quote == '\'' {
                    push_char(&mut out, char::from(v));
                } else {
                    out.push(v);
                }
            }
            '0'..='7' => {
                let rest: String = (0..2).filter_map(|_| chars.next()).collect();
                let v = u32::from_str_radix(&format!("{e}{rest}"), 8).map_err(|_| bad())?;
                let v = u8::try_from(v).map_err(|_| bad())?;
                if quote == '\'' {
                    push_char(&mut out, char::from(v));
                } else {
                    out.push(v);
                }
            }
            'u' | 'U' => {
                let n = if e == 'u' { 4 } else { 8 };
                let h: String = (0..n).filter_map(|_| chars.next()).collect();
                let v = u32::from_str_radix(&h, 16).map_err(|_| bad())?;
                push_char(&mut out, char::from_u32(v).ok_or_else(bad)?);
            }
            _ => return Err(bad()),
        }
    }
    if quote == '\'' {
        let s = String::from_utf8(out).map_err(|_| bad())?;
        if s.chars().count() != 1 {
            return Err(bad());
        }
        return Ok(s);
    }
    Ok(String::from_utf8(out)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

fn strip_underscores(s: &str) -> String {
    s.replace('_', "")
}

fn parse_int_base0(text: &str) -> Option<(bool, u64)> {
    let (neg, t) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let t = strip_underscores(t);
    let lower = t.to_ascii_lowercase();
    let v = if let Some(h) = lower.strip_prefix("0x") {
        u64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = lower.strip_prefix("0o") {
        u64::from_str_radix(o, 8).ok()?
    } else if let Some(b) = lower.strip_prefix("0b") {
        u64::from_str_radix(b, 2).ok()?
    } else if lower.len() > 1 && lower.starts_with('0') {
        u64::from_str_radix(&lower[1..], 8).ok()?
    } else {
        lower.parse::<u64>().ok()?
    };
    Some((neg, v))
}

/// A hexadecimal float (`0x1.8p3`): hex digits with an optional point,
/// and a binary exponent.
fn hex_float(t: &str) -> Option<f64> {
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let body = body
        .strip_prefix("0x")
        .or_else(|| body.strip_prefix("0X"))?;
    let (mant, exp) = body.split_once(['p', 'P'])?;
    let exp: i32 = exp.parse().ok()?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp);
    Some(if neg { -v } else { v })
}

/// Go's `newNumber`: the int, uint and float forms a literal has.
pub(crate) fn number(text: &str, kind: Kind) -> Result<Number, String> {
    let mut n = Number {
        text: text.to_string(),
        int: None,
        uint: None,
        float: None,
        is_char: false,
    };
    if kind == Kind::CharConstant {
        let s = unquote(text)?;
        let c = s.chars().next().ok_or("invalid syntax")? as u32;
        n.int = Some(i64::from(c));
        n.uint = Some(u64::from(c));
        n.float = Some(f64::from(c));
        n.is_char = true;
        return Ok(n);
    }
    if text.ends_with('i') {
        return Err(format!(
            "complex number {} is not supported",
            crate::fmt::quote(text)
        ));
    }
    if let Some((neg, v)) = parse_int_base0(text) {
        if !neg {
            n.uint = Some(v);
            if let Ok(i) = i64::try_from(v) {
                n.int = Some(i);
            }
        } else if v <= i64::MAX as u64 + 1 {
            n.int = Some((v as i128).wrapping_neg() as i64);
            if v == 0 {
                n.uint = Some(0);
            }
        }
    }
    if let Some(i) = n.int {
        n.float = Some(i as f64);
    } else if let Some(u) = n.uint {
        n.float = Some(u as f64);
    } else {
        let t = strip_underscores(text);
        if let Some(f) = hex_float(&t).or_else(|| t.parse::<f64>().ok()) {
            if !text.contains(['.', 'e', 'E', 'p', 'P']) {
                return Err(format!("integer overflow: {}", crate::fmt::quote(text)));
            }
            n.float = Some(f);
            if f.fract() == 0.0 && f.abs() < 9.2e18 {
                n.int = Some(f as i64);
            }
            if f.fract() == 0.0 && (0.0..1.8e19).contains(&f) {
                n.uint = Some(f as u64);
            }
        }
    }
    if n.int.is_none() && n.uint.is_none() && n.float.is_none() {
        return Err(format!(
            "illegal number syntax: {}",
            crate::fmt::quote(text)
        ));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unquotes_like_go() {
        assert_eq!(unquote(r#""\xf0\x9f\x9a\x80""#).unwrap(), "🚀");
        assert_eq!(unquote(r#""a\tb\n\"\\""#).unwrap(), "a\tb\n\"\\");
        assert_eq!(unquote(r#""\u00e9\101""#).unwrap(), "éA");
        assert_eq!(unquote("`raw\\n\r`").unwrap(), "raw\\n");
        assert_eq!(unquote(r"'\n'").unwrap(), "\n");
        assert!(unquote(r#""\q""#).is_err());
    }

    #[test]
    fn numbers_have_go_forms() {
        let n = number("42", Kind::Number).unwrap();
        assert_eq!((n.int, n.uint, n.float), (Some(42), Some(42), Some(42.0)));
        let n = number("-0x10", Kind::Number).unwrap();
        assert_eq!(n.int, Some(-16));
        assert_eq!(number("1_000", Kind::Number).unwrap().int, Some(1000));
        assert_eq!(number("017", Kind::Number).unwrap().int, Some(15));
        let n = number("1.5", Kind::Number).unwrap();
        assert_eq!((n.int, n.float), (None, Some(1.5)));
        assert_eq!(number("1e3", Kind::Number).unwrap().int, Some(1000));
        assert_eq!(number("'a'", Kind::CharConstant).unwrap().int, Some(97));
        assert!(number("99999999999999999999", Kind::Number)
            .unwrap_err()
            .contains("overflow"));
        assert_eq!(
            number("18446744073709551615", Kind::Number).unwrap().uint,
            Some(u64::MAX)
        );
    }
}
