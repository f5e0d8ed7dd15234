//! Scanning: a consul-template source into text and actions, an action
//! into tokens, and tokens into a pipeline (Go text/template's grammar).

/// One piece of the source.
#[derive(Debug)]
pub(super) enum Piece<'a> {
    /// Literal text.
    Text(&'a str),
    /// `{{ ... }}`.
    Action(Action<'a>),
}

/// An action as written.
#[derive(Debug)]
pub(super) struct Action<'a> {
    /// The whole action, delimiters included.
    pub src: &'a str,
    /// Between the delimiters and trim markers (a comment's inner text).
    pub body: &'a str,
    /// What the action is.
    pub kind: ActionKind,
    /// `{{- `: trims the whitespace before.
    pub tl: bool,
    /// ` -}}`: trims the whitespace after.
    pub tr: bool,
    /// 1-based line where it starts.
    pub line: usize,
}

/// Code, comment, or something that does not scan.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ActionKind {
    Code,
    Comment,
    Broken(&'static str),
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Splits a template into text and actions.
pub(super) fn pieces(input: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let (mut pos, mut line) = (0, 1);
    while pos < input.len() {
        let Some(off) = input[pos..].find("{{") else {
            out.push(Piece::Text(&input[pos..]));
            break;
        };
        let start = pos + off;
        if off > 0 {
            out.push(Piece::Text(&input[pos..start]));
            line += input[pos..start].matches('\n').count();
        }
        let action = scan_action(input, start, line);
        pos = start + action.src.len();
        line += action.src.matches('\n').count();
        out.push(Piece::Action(action));
    }
    out
}

fn scan_action(input: &str, start: usize, line: usize) -> Action<'_> {
    let b = input.as_bytes();
    let mut i = start + 2;
    let tl = b.get(i) == Some(&b'-') && b.get(i + 1).is_some_and(|&c| is_space(c));
    if tl {
        i += 2;
    }
    let mk = |end: usize, body: &'static str, kind| Action {
        src: &input[start..end],
        body,
        kind,
        tl,
        tr: false,
        line,
    };
    let mut j = i;
    while j < b.len() && is_space(b[j]) {
        j += 1;
    }
    if input[j..].starts_with("/*") {
        let Some(k) = input[j + 2..].find("*/").map(|k| k + j + 2) else {
            return mk(input.len(), "", ActionKind::Broken("unclosed comment"));
        };
        let mut e = k + 2;
        while e < b.len() && is_space(b[e]) {
            e += 1;
        }
        let tr = e > k + 2 && input[e..].starts_with("-}}");
        let end = if tr {
            e + 3
        } else if input[k + 2..].starts_with("}}") {
            k + 4
        } else {
            let end = input[k..].find("}}").map_or(input.len(), |x| x + k + 2);
            return mk(end, "", ActionKind::Broken("text after the comment"));
        };
        return Action {
            src: &input[start..end],
            body: &input[j + 2..k],
            kind: ActionKind::Comment,
            tl,
            tr,
            line,
        };
    }
    let mut k = i;
    loop {
        if k >= b.len() {
            return mk(
                input.len(),
                "",
                ActionKind::Broken("unclosed action: no `}}`"),
            );
        }
        match b[k] {
            q @ (b'"' | b'\'' | b'`') => {
                k += 1;
                while k < b.len() && b[k] != q {
                    k += if b[k] == b'\\' && q != b'`' { 2 } else { 1 };
                }
                k += 1;
            }
            b'}' if b.get(k + 1) == Some(&b'}') => break,
            _ => k += 1,
        }
    }
    let tr = k > i && b[k - 1] == b'-' && k >= start + 4 && is_space(b[k - 2]);
    Action {
        src: &input[start..k + 2],
        body: &input[i..if tr { k - 1 } else { k }],
        kind: ActionKind::Code,
        tl,
        tr,
        line,
    }
}

/// A token inside an action.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Tok {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Ident(String),
    /// `.Name` (without the dot).
    Field(String),
    Dot,
    /// `$name` (without the `$`; empty for `$`).
    Var(String),
    Pipe,
    LParen,
    RParen,
    Declare,
    Assign,
    Comma,
}

/// A token and whether whitespace came before it.
#[derive(Clone, Debug)]
pub(super) struct Token {
    pub tok: Tok,
    pub spaced: bool,
}

fn word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Tokenizes an action's body.
pub(super) fn tokens(body: &str) -> Result<Vec<Token>, String> {
    let cs: Vec<char> = body.chars().collect();
    let (mut i, mut spaced, mut out) = (0, true, Vec::new());
    let take = |i: &mut usize, f: &dyn Fn(char) -> bool| {
        let s = *i;
        while *i < cs.len() && f(cs[*i]) {
            *i += 1;
        }
        cs[s..*i].iter().collect::<String>()
    };
    while i < cs.len() {
        let c = cs[i];
        let next = cs.get(i + 1).copied();
        if c.is_whitespace() {
            spaced = true;
            i += 1;
            continue;
        }
        let tok = match c {
            '|' | '(' | ')' | ',' | '=' => {
                i += 1;
                match c {
                    '|' => Tok::Pipe,
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    ',' => Tok::Comma,
                    _ => Tok::Assign,
                }
            }
            ':' if next == Some('=') => {
                i += 2;
                Tok::Declare
            }
            '"' | '\'' => {
                let s = quoted(&cs, &mut i, c)?;
                if c == '"' {
                    Tok::Str(s)
                } else {
                    let mut it = s.chars();
                    match (it.next(), it.next()) {
                        (Some(ch), None) => Tok::Int(i64::from(u32::from(ch))),
                        _ => return Err(format!("bad character constant '{s}'")),
                    }
                }
            }
            '`' => {
                i += 1;
                let s = take(&mut i, &|c| c != '`');
                if i >= cs.len() {
                    return Err("unterminated raw string".into());
                }
                i += 1;
                Tok::Str(s)
            }
            '$' => {
                i += 1;
                Tok::Var(take(&mut i, &word))
            }
            '.' if next.is_some_and(|n| n.is_ascii_digit()) => number(&cs, &mut i)?,
            '.' if next.is_some_and(|n| n.is_alphabetic() || n == '_') => {
                i += 1;
                Tok::Field(take(&mut i, &word))
            }
            '.' => {
                i += 1;
                Tok::Dot
            }
            '+' | '-' if next.is_some_and(|n| n.is_ascii_digit() || n == '.') => {
                number(&cs, &mut i)?
            }
            '0'..='9' => number(&cs, &mut i)?,
            c if c.is_alphabetic() || c == '_' => match take(&mut i, &word).as_str() {
                "true" => Tok::Bool(true),
                "false" => Tok::Bool(false),
                "nil" => Tok::Nil,
                w => Tok::Ident(w.to_string()),
            },
            _ => return Err(format!("unexpected {c:?} in the action")),
        };
        out.push(Token { tok, spaced });
        spaced = false;
    }
    Ok(out)
}

fn quoted(cs: &[char], i: &mut usize, q: char) -> Result<String, String> {
    *i += 1;
    // Go's escapes build bytes: "\xf0\x9f\x9a\x80" is one character.
    let mut s: Vec<u8> = Vec::new();
    let push = |s: &mut Vec<u8>, c: char| {
        let mut buf = [0u8; 4];
        s.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    loop {
        let Some(&c) = cs.get(*i) else {
            return Err("unterminated string".into());
        };
        *i += 1;
        match c {
            c if c == q => {
                return String::from_utf8(s)
                    .map_err(|_| "a string's escapes are not valid UTF-8".into())
            }
            '\n' => return Err("newline in a string".into()),
            '\\' => {
                let Some(&e) = cs.get(*i) else {
                    return Err("unterminated string".into());
                };
                *i += 1;
                let simple = match e {
                    'n' => Some('\n'),
                    't' => Some('\t'),
                    'r' => Some('\r'),
                    'a' => Some('\x07'),
                    'b' => Some('\x08'),
                    'f' => Some('\x0c'),
                    'v' => Some('\x0b'),
                    '\\' | '"' | '\'' => Some(e),
                    _ => None,
                };
                if let Some(ch) = simple {
                    push(&mut s, ch);
                    continue;
                }
                let (n, radix, byte) = match e {
                    'x' => (2, 16, true),
                    'u' => (4, 16, false),
                    'U' => (8, 16, false),
                    '0'..='7' => {
                        *i -= 1;
                        (3, 8, true)
                    }
                    _ => return Err(format!("unknown escape \\{e}")),
                };
                let digits: String = cs.get(*i..*i + n).unwrap_or_default().iter().collect();
                *i += n;
                let v = u32::from_str_radix(&digits, radix)
                    .map_err(|_| format!("bad escape in a string: {digits:?}"))?;
                if byte {
                    s.push(
                        u8::try_from(v)
                            .map_err(|_| format!("bad escape in a string: {digits:?}"))?,
                    );
                } else {
                    push(
                        &mut s,
                        char::from_u32(v)
                            .ok_or_else(|| format!("bad escape in a string: {digits:?}"))?,
                    );
                }
            }
            c => push(&mut s, c),
        }
    }
}

fn number(cs: &[char], i: &mut usize) -> Result<Tok, String> {
    let s = *i;
    *i += 1;
    while *i < cs.len() {
        let c = cs[*i];
        let exp_sign = matches!(c, '+' | '-') && matches!(cs[*i - 1], 'e' | 'E' | 'p' | 'P');
        if !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || exp_sign) {
            break;
        }
        *i += 1;
    }
    let text: String = cs[s..*i].iter().filter(|&&c| c != '_').collect();
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    let radix = |p: &str| {
        body.strip_prefix(p)
            .or_else(|| body.strip_prefix(&p.to_uppercase()))
    };
    let int = if let Some(h) = radix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = radix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = radix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if body.len() > 1 && body.starts_with('0') && body.bytes().all(|c| c.is_ascii_digit()) {
        i64::from_str_radix(body, 8).ok()
    } else if body.bytes().all(|c| c.is_ascii_digit()) {
        body.parse().ok()
    } else {
        None
    };
    if let Some(n) = int {
        return Ok(Tok::Int(if neg { -n } else { n }));
    }
    match body.parse::<f64>() {
        Ok(f) if f.is_finite() && !body.contains(['x', 'X', 'i']) => {
            Ok(Tok::Float(if neg { -f } else { f }))
        }
        _ => Err(format!("number {text:?} does not convert")),
    }
}

/// An operand: a term and the fields read from it (`.A.B`, `$x.A`).
#[derive(Clone, Debug)]
pub(super) struct Operand {
    pub term: Term,
    pub fields: Vec<String>,
}

/// The start of an operand.
#[derive(Clone, Debug)]
pub(super) enum Term {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Dot,
    Var(String),
    Func(String),
    Sub(Box<Pipeline>),
}

/// `[$a[, $b] :=|=] cmd | cmd ...`; a command is its operands.
#[derive(Clone, Debug, Default)]
pub(super) struct Pipeline {
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Vec<Operand>>,
}

/// Go template keywords that start an action.
pub(super) const KEYWORDS: &[&str] = &[
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
];

/// A cursor over an action's tokens.
#[derive(Debug)]
pub(super) struct Parser {
    toks: Vec<Token>,
    pos: usize,
}

impl Parser {
    pub(super) fn new(toks: Vec<Token>) -> Parser {
        Parser { toks, pos: 0 }
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }

    /// Consumes and returns the next keyword, if the next token is one.
    pub(super) fn keyword(&mut self) -> Option<&'static str> {
        let Some(Tok::Ident(w)) = self.peek() else {
            return None;
        };
        let kw = KEYWORDS.iter().find(|k| **k == w.as_str()).copied()?;
        self.pos += 1;
        Some(kw)
    }

    /// The tokens not consumed yet.
    pub(super) fn rest(&self) -> &[Token] {
        &self.toks[self.pos..]
    }

    /// Consumes a string literal.
    pub(super) fn string(&mut self) -> Option<String> {
        match self.peek() {
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                Some(s)
            }
            _ => None,
        }
    }

    /// Parses the rest of the action as one pipeline.
    pub(super) fn finish(&mut self) -> Result<Pipeline, String> {
        let p = self.pipeline()?;
        match self.peek() {
            None => Ok(p),
            Some(t) => Err(format!("unexpected {t:?} after the pipeline")),
        }
    }

    fn pipeline(&mut self) -> Result<Pipeline, String> {
        let mut p = Pipeline::default();
        let is_decl =
            |t: Option<&Token>| matches!(t.map(|t| &t.tok), Some(Tok::Declare | Tok::Assign));
        let at = |k: usize| self.toks.get(self.pos + k);
        if let Some(Tok::Var(a)) = at(0).map(|t| &t.tok) {
            if is_decl(at(1)) {
                p.decl = vec![a.clone()];
            } else if let (Some(Tok::Comma), Some(Tok::Var(b))) =
                (at(1).map(|t| &t.tok), at(2).map(|t| &t.tok))
            {
                if is_decl(at(3)) {
                    p.decl = vec![a.clone(), b.clone()];
                }
            }
        }
        if !p.decl.is_empty() {
            self.pos += p.decl.len() * 2 - 1;
            p.assign = self.peek() == Some(&Tok::Assign);
            self.pos += 1;
        }
        loop {
            let mut cmd = Vec::new();
            while !matches!(self.peek(), None | Some(Tok::Pipe | Tok::RParen)) {
                cmd.push(self.operand()?);
            }
            if cmd.is_empty() {
                return Err("missing value in the pipeline".into());
            }
            p.cmds.push(cmd);
            if self.peek() != Some(&Tok::Pipe) {
                return Ok(p);
            }
            self.pos += 1;
        }
    }

    fn operand(&mut self) -> Result<Operand, String> {
        let tok = self.toks[self.pos].tok.clone();
        self.pos += 1;
        let mut fields = Vec::new();
        let term = match tok {
            Tok::Str(s) => Term::Str(s),
            Tok::Int(n) => Term::Int(n),
            Tok::Float(f) => Term::Float(f),
            Tok::Bool(b) => Term::Bool(b),
            Tok::Nil => Term::Nil,
            Tok::Dot => Term::Dot,
            Tok::Field(f) => {
                fields.push(f);
                Term::Dot
            }
            Tok::Var(v) => Term::Var(v),
            Tok::Ident(f) if KEYWORDS.contains(&f.as_str()) => {
                return Err(format!("`{f}` must start its own action"))
            }
            Tok::Ident(f) => Term::Func(f),
            Tok::LParen => {
                let p = self.pipeline()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err("missing `)`".into());
                }
                self.pos += 1;
                Term::Sub(Box::new(p))
            }
            t => return Err(format!("unexpected {t:?}")),
        };
        while let Some(Token {
            tok: Tok::Field(f),
            spaced: false,
        }) = self.toks.get(self.pos)
        {
            fields.push(f.clone());
            self.pos += 1;
        }
        Ok(Operand { term, fields })
    }
}
