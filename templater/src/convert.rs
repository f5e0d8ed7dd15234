//! `templater convert`: consul-template Go templates to tera.
//!
//! The converter scans the source into text and `{{ }}` actions, parses
//! each action with Go text/template's grammar (strings with escapes, raw
//! strings, numbers, `.Field` chains, `$variables`, pipes, parentheses)
//! and writes the tera equivalent:
//!
//! | consul-template | tera |
//! |---|---|
//! | `{{ range service "web" }}{{ .Address }}{{ else }}..{{ end }}` | `{% for s in service(name="web") %}{{ s.Address }}{% else %}..{% endfor %}` |
//! | `{{ range $i, $e := X }}{{ $i }}` | `{% for e in X %}{{ loop.index0 }}` |
//! | `{{ range $k, $v := service "web" \| byTag }}` | `{% for k, v in service(name="web") \| by_tag %}` |
//! | `{{ with key "x" }}{{ . }}{{ end }}` | `{% set v = key(path="x") %}{% if v %}{{ v }}{% endif %}` |
//! | `{{ if and (eq .A "x") (not .B) }}` | `{% if s.A == "x" and not s.B %}` |
//! | `{{ $x := keyOrDefault "k" "d" }}` | `{% set x = key_or_default(path="k", default="d") %}` |
//! | `{{ printf "%s:%d" .Address .Port }}` | `{{ s.Address }}:{{ s.Port }}` |
//! | `{{/* note */}}` | `{# note #}` |
//!
//! Trim markers (`{{-`, `-}}`) carry over. Text that tera would read as a
//! tag is wrapped in `{% raw %}`. What has no tera form (`define`,
//! `template`, `block`, `scratch`, `plugin`, Vault functions, `sprig_*`,
//! `printf` verbs other than `%s`/`%d`/`%v`, ...) stays in the output as
//! `{# UNCONVERTED: ... #}` and is listed in [`Conversion::unconverted`]
//! with its line and what to do by hand. Templates written with custom
//! delimiters (`left_delimiter`) must be switched back to `{{ }}` first.

mod blocks;
mod expr;
mod scan;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::fmt::Write as _;

use expr::{OutPart, Scope, Ty};
use scan::{Action, ActionKind, Piece, Pipeline, Tok};

/// A line the converter could not translate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unconverted {
    /// 1-based line in the input.
    pub line: usize,
    /// The input line.
    pub text: String,
    /// Why, and what to do by hand.
    pub reason: String,
}

/// The result of a conversion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conversion {
    /// The tera template.
    pub output: String,
    /// Lines left for manual work.
    pub unconverted: Vec<Unconverted>,
}

/// Converts a Go template (consul-template dialect) to tera.
///
/// Never fails: what does not convert is kept as a tera comment and
/// reported in [`Conversion::unconverted`], sorted by line.
pub fn convert(input: &str) -> Conversion {
    let pieces = scan::pieces(input);
    let mut c = Conv {
        lines: input.lines().collect(),
        ..Conv::default()
    };
    for p in &pieces {
        if let Piece::Action(a) = p {
            c.prescan(a);
        }
    }
    for (i, p) in pieces.iter().enumerate() {
        match p {
            Piece::Text(t) => {
                let after_trim = i > 0 && matches!(&pieces[i - 1], Piece::Action(a) if a.tr);
                let next = match pieces.get(i + 1) {
                    Some(Piece::Action(a)) => Some(a),
                    _ => None,
                };
                let before_trim = next.is_some_and(|a| a.tl);
                let manual_end = next.is_some_and(|a| c.range_edge(a));
                let manual_start = std::mem::take(&mut c.trim_next);
                let t = if manual_start {
                    t.trim_start_matches(GO_WS)
                } else {
                    t
                };
                let t = if manual_end {
                    t.trim_end_matches(GO_WS)
                } else {
                    t
                };
                c.text(t, after_trim, before_trim);
            }
            Piece::Action(a) => {
                c.trim_next = false;
                c.action(a);
            }
        }
    }
    c.finish()
}

/// A piece of tera output for one action.
#[derive(Debug)]
enum Frag {
    /// `{% .. %}`.
    Tag(String),
    /// `{{ .. }}`.
    Out(String),
    /// `{# .. #}` (text includes its spaces).
    Comment(String),
    /// Literal text.
    Text(String),
}

#[derive(Clone, Copy, Debug, Default)]
struct Mark {
    dots: usize,
    vars: usize,
    loops: usize,
    live: usize,
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    If,
    With,
    Range,
    /// `define`/`block` kept inside `{% if false %}`.
    Inert,
    /// `block "x" .`: the body renders in place.
    Open(String),
}

#[derive(Debug)]
struct Block {
    kind: Kind,
    line: usize,
    else_seen: bool,
    endifs: usize,
    mark: Mark,
}

#[derive(Debug)]
struct Var {
    go: String,
    tera: String,
    ty: Ty,
    /// Loops open where it was declared.
    depth: usize,
    /// For `$i` of `range $i, $e`: the loop it counts.
    index_of: Option<usize>,
}

#[derive(Debug, Default)]
struct Loop {
    /// Output offset right after the for tag; `None` until emitted.
    at: Option<usize>,
    tr: bool,
    index_set: bool,
}

#[derive(Debug, Default)]
struct Conv<'a> {
    lines: Vec<&'a str>,
    out: String,
    unconverted: Vec<Unconverted>,
    blocks: Vec<Block>,
    dots: Vec<(String, Ty)>,
    vars: Vec<Var>,
    loops: Vec<Loop>,
    /// Names the converter made up, in scope.
    live: Vec<String>,
    /// Tera names of every Go variable in the file.
    go_names: HashSet<String>,
    notes: Vec<String>,
    inserts: Vec<(usize, String)>,
    /// Trim the next text here: tera ignores the markers of a for loop's
    /// `{% else %}` and applies `{%- endfor %}` to the loop body instead of
    /// the else body, so Go's trims around a range's else are done here.
    trim_next: bool,
    /// Whether anything but comments was written: tera drops the comments
    /// that open a template together with their `-#}`.
    content: bool,
    /// Drop the left trim marker of the action being converted.
    no_tl: bool,
    /// Drop the right trim marker of the action being converted.
    no_tr: bool,
}

/// Whitespace Go's trim markers remove.
const GO_WS: [char; 4] = [' ', '\t', '\r', '\n'];

const ROOT: &str = "`.` at the top level is consul-template's root data, which is always empty: there is nothing to convert it to; remove it or use a variable";

/// The tera name of `$go`.
fn var_name(go: &str) -> Result<String, String> {
    if go.is_empty() {
        return Err(format!("`$` is the root data. {ROOT}"));
    }
    if !go.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "`${go}` is not an ASCII name, which tera needs: rename it"
        ));
    }
    let clash = [
        "loop", "and", "or", "not", "in", "is", "self", "super", "as",
    ]
    .contains(&go)
        || ["true", "false", "True", "False"]
            .iter()
            .any(|b| go.starts_with(b))
        || go.starts_with(|c: char| c.is_ascii_digit());
    Ok(if clash {
        format!("v_{go}")
    } else {
        go.to_string()
    })
}

/// Tera comment text for `s` (`#}` would end the comment early).
fn comment(s: &str) -> String {
    let s = s.replace("#}", "# }");
    let lead = if s.starts_with('-') || s.is_empty() {
        " "
    } else {
        ""
    };
    let trail = if s.ends_with('-') { " " } else { "" };
    format!("{lead}{s}{trail}")
}

impl Scope for Conv<'_> {
    fn dot(&self) -> Result<(String, Ty), String> {
        self.dots.last().cloned().ok_or_else(|| ROOT.to_string())
    }

    fn var(&mut self, go: &str) -> Result<(String, Ty), String> {
        let Some(v) = self.vars.iter().rev().find(|v| v.go == go) else {
            return Ok((var_name(go)?, Ty::Other));
        };
        let (name, ty) = (v.tera.clone(), v.ty);
        match v.index_of {
            Some(li) if li + 1 == self.loops.len() => Ok(("loop.index0".into(), Ty::Other)),
            Some(li) => {
                if let Some(l) = self.loops.get_mut(li).filter(|l| !l.index_set) {
                    l.index_set = true;
                    let end = if l.tr { "-%}" } else { "%}" };
                    let at = l.at.unwrap_or_default();
                    self.inserts
                        .push((at, format!("{{% set {name} = loop.index0 {end}")));
                }
                Ok((name, ty))
            }
            None => Ok((name, ty)),
        }
    }

    fn note(&mut self, text: String) {
        self.notes.push(text);
    }
}

impl Conv<'_> {
    fn prescan(&mut self, a: &Action<'_>) {
        if a.kind != ActionKind::Code {
            return;
        }
        for t in scan::tokens(a.body).unwrap_or_default() {
            if let Tok::Var(v) = t.tok {
                if let Ok(n) = var_name(&v) {
                    self.go_names.insert(n);
                }
            }
        }
    }

    fn mark(&self) -> Mark {
        Mark {
            dots: self.dots.len(),
            vars: self.vars.len(),
            loops: self.loops.len(),
            live: self.live.len(),
        }
    }

    fn restore(&mut self, m: Mark) {
        self.dots.truncate(m.dots);
        self.vars.truncate(m.vars);
        self.loops.truncate(m.loops);
        self.live.truncate(m.live);
    }

    /// A made-up variable name unused by the file and the enclosing scopes.
    fn fresh(&mut self, base: &str) -> String {
        let name = (1..)
            .map(|n| {
                if n == 1 {
                    base.to_string()
                } else {
                    format!("{base}{n}")
                }
            })
            .find(|c| !self.go_names.contains(c) && !self.live.contains(c))
            .unwrap_or_default();
        self.live.push(name.clone());
        name
    }

    /// Declares (`:=`) or assigns (`=`) `$go`; returns the tag keyword and name.
    fn declare(
        &mut self,
        go: &str,
        ty: Ty,
        assign: bool,
    ) -> Result<(&'static str, String), String> {
        let depth = self.loops.len();
        if assign {
            if let Some(v) = self.vars.iter().rev().find(|v| v.go == go) {
                return match v.depth {
                    d if d == depth => Ok(("set", v.tera.clone())),
                    0 => Ok(("set_global", v.tera.clone())),
                    _ => Err(format!("`${go} = ...` inside a nested loop: tera cannot assign a variable of an enclosing loop; restructure by hand")),
                };
            }
        }
        let tera = var_name(go)?;
        self.vars.push(Var {
            go: go.to_string(),
            tera: tera.clone(),
            ty,
            depth,
            index_of: None,
        });
        Ok(("set", tera))
    }

    fn report(&mut self, line: usize, reason: String) {
        let text = self
            .lines
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or_default();
        self.unconverted.push(Unconverted {
            line,
            text: text.to_string(),
            reason,
        });
    }

    fn unconverted_comment(a: &Action<'_>) -> Frag {
        Frag::Comment(format!(" UNCONVERTED: {} ", comment(a.src).trim()))
    }

    fn text(&mut self, t: &str, after_trim: bool, before_trim: bool) {
        self.content |= !t.is_empty();
        if !["{{", "{%", "{#"].iter().any(|o| t.contains(o)) {
            self.plain(t);
            return;
        }
        // Tera does not trim into raw blocks: apply Go's trimming here.
        let mut t = t;
        if after_trim {
            t = t.trim_start_matches(GO_WS);
        }
        if before_trim {
            t = t.trim_end_matches(GO_WS);
        }
        if !t.contains("endraw") {
            let _ = write!(self.out, "{{% raw %}}{t}{{% endraw %}}");
            return;
        }
        let mut rest = t;
        while let Some(i) = ["{{", "{%", "{#"].iter().filter_map(|o| rest.find(o)).min() {
            let _ = write!(self.out, "{}{{{{ \"{}\" }}}}", &rest[..i], &rest[i..i + 2]);
            rest = &rest[i + 2..];
        }
        self.plain(rest);
    }

    /// Text without tera openers; a final `{` is written as an expression,
    /// since before a tag it would read as `{{`/`{%` (Go forbids that, but
    /// trimming done here can bring one next to a tag).
    fn plain(&mut self, t: &str) {
        match t.strip_suffix('{') {
            Some(t) => {
                self.out.push_str(t);
                self.out.push_str("{{ \"{\" }}");
            }
            None => self.out.push_str(t),
        }
    }

    fn emit(&mut self, frags: Vec<Frag>, tl: bool, tr: bool) {
        let mut all: Vec<Frag> = std::mem::take(&mut self.notes)
            .into_iter()
            .map(|n| Frag::Comment(format!(" {} ", comment(&n).trim())))
            .collect();
        all.extend(frags);
        let n = all.len();
        if tr && !self.content && all.iter().all(|f| matches!(f, Frag::Comment(_))) {
            self.trim_next = true;
        }
        self.content |= !matches!(all.last(), Some(Frag::Comment(_)) | None);
        for (i, f) in all.into_iter().enumerate() {
            let l = if i == 0 && tl { "-" } else { "" };
            let r = if i + 1 == n && tr { "-" } else { "" };
            let _ = match f {
                Frag::Tag(s) => write!(self.out, "{{%{l} {s} {r}%}}"),
                Frag::Out(s) => write!(self.out, "{{{{{l} {s} {r}}}}}"),
                Frag::Comment(s) => write!(self.out, "{{#{l}{s}{r}#}}"),
                Frag::Text(s) => {
                    self.text(&s, false, false);
                    Ok(())
                }
            };
        }
        let at = self.out.len();
        for l in self.loops.iter_mut().filter(|l| l.at.is_none()) {
            l.at = Some(at);
            l.tr = tr;
        }
    }

    /// Whether `a` is `{{- else }}` of a range, or `{{- end }}` of a range
    /// with an else: the text before it is trimmed here (see `trim_next`).
    fn range_edge(&self, a: &Action<'_>) -> bool {
        let Some(b) = self.blocks.last().filter(|b| b.kind == Kind::Range) else {
            return false;
        };
        let toks = scan::tokens(a.body).unwrap_or_default();
        let kw = match toks.as_slice() {
            [t] => &t.tok,
            _ => return false,
        };
        a.tl && a.kind == ActionKind::Code
            && match kw {
                Tok::Ident(k) if k == "else" => !b.else_seen,
                Tok::Ident(k) if k == "end" => b.else_seen,
                _ => false,
            }
    }

    fn action(&mut self, a: &Action<'_>) {
        let frags = match &a.kind {
            ActionKind::Comment => Ok(vec![Frag::Comment(comment(a.body))]),
            ActionKind::Broken(why) => Err(format!("{why}: fix the action")),
            ActionKind::Code => self.code(a),
        };
        let frags = frags.unwrap_or_else(|why| {
            self.notes.clear();
            self.report(a.line, why);
            vec![Self::unconverted_comment(a)]
        });
        let tl = a.tl && !std::mem::take(&mut self.no_tl);
        let tr = a.tr && !std::mem::take(&mut self.no_tr);
        self.emit(frags, tl, tr);
    }

    fn code(&mut self, a: &Action<'_>) -> Result<Vec<Frag>, String> {
        let mut p = scan::Parser::new(scan::tokens(a.body)?);
        match p.keyword() {
            Some(kw @ ("if" | "with" | "range")) => {
                let pl = p.finish();
                Ok(self.open(kw, pl, a))
            }
            Some("else") => self.else_(&mut p, a),
            Some("end") => {
                if !p.rest().is_empty() {
                    return Err("text after `end`".into());
                }
                let b = self.blocks.pop().ok_or("`end` without an open if, with, range or define")?;
                self.restore(b.mark);
                self.no_tl = b.kind == Kind::Range && b.else_seen;
                Ok(Self::closing(&b))
            }
            Some(kw @ ("define" | "block")) => Ok(self.inert(kw, &mut p, a)),
            Some("template") => Err("`template` calls a `define`d template: turn the define into a tera macro (`{% macro name(dot) %}`) and call it with `{{ self::name(dot=...) }}`".into()),
            Some(kw @ ("break" | "continue")) if p.rest().is_empty() && !self.loops.is_empty() => Ok(vec![Frag::Tag(kw.into())]),
            Some(kw) => Err(format!("`{kw}` outside a range")),
            None => {
                let pl = p.finish()?;
                self.statement(&pl, a)
            }
        }
    }

    fn statement(&mut self, pl: &Pipeline, a: &Action<'_>) -> Result<Vec<Frag>, String> {
        match pl.decl.as_slice() {
            [] => Ok(expr::output(self, pl, a.tl, a.tr)?
                .into_iter()
                .map(|p| match p {
                    OutPart::Text(s) => Frag::Text(s),
                    OutPart::Expr(s) => Frag::Out(s),
                })
                .collect()),
            [v] => {
                let e = expr::pipeline(self, pl)?;
                let (kw, name) = self.declare(v, e.ty, pl.assign)?;
                Ok(vec![Frag::Tag(format!("{kw} {name} = {}", e.s))])
            }
            _ => Err("only `range` declares two variables".into()),
        }
    }

    fn finish(mut self) -> Conversion {
        while let Some(b) = self.blocks.pop() {
            self.report(b.line, "this block has no matching `{{ end }}`: it was closed at the end of the file; check where it should end".into());
            let frags = Self::closing(&b);
            self.emit(frags, false, false);
        }
        self.inserts.sort_by_key(|i| std::cmp::Reverse(i.0));
        for (at, s) in std::mem::take(&mut self.inserts) {
            if self.out.is_char_boundary(at) {
                self.out.insert_str(at, &s);
            }
        }
        self.unconverted.sort_by_key(|u| u.line);
        Conversion {
            output: self.out,
            unconverted: self.unconverted,
        }
    }
}
