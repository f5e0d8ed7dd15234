//! Block actions: `if`, `with`, `range`, `else`, `end`'s tags, and the
//! `define`/`block` that stay for manual work.

use super::expr::{self, Ty};
use super::scan::{self, Action, Pipeline, Tok};
use super::{comment, var_name, Block, Conv, Frag, Kind, Loop, Mark, Var};

impl Conv<'_> {
    pub(super) fn closing(b: &Block) -> Vec<Frag> {
        match &b.kind {
            Kind::If | Kind::With | Kind::Inert => {
                (0..=b.endifs).map(|_| Frag::Tag("endif".into())).collect()
            }
            Kind::Range => vec![Frag::Tag("endfor".into())],
            Kind::Open(name) => vec![Frag::Comment(format!(" end of block {} ", comment(name)))],
        }
    }

    /// `set` (when needed) and `if` for `with`; pushes the new dot.
    fn with(&mut self, pl: &Pipeline) -> Result<Vec<Frag>, String> {
        let e = expr::pipeline(self, pl)?;
        let (pre, name) = match pl.decl.as_slice() {
            [] if e.k == expr::K::Path => (vec![], e.s.clone()),
            [] => {
                let n = self.fresh(expr::base_name(pl, "v"));
                (vec![Frag::Tag(format!("set {n} = {}", e.s))], n)
            }
            [v] => {
                let (kw, n) = self.declare(v, e.ty, pl.assign)?;
                (vec![Frag::Tag(format!("{kw} {n} = {}", e.s))], n)
            }
            _ => return Err("only `range` declares two variables".into()),
        };
        self.dots.push((name.clone(), e.ty));
        Ok(pre
            .into_iter()
            .chain([Frag::Tag(format!("if {name}"))])
            .collect())
    }

    fn cond(&mut self, pl: &Pipeline, tag: &str) -> Result<Vec<Frag>, String> {
        let e = expr::pipeline(self, pl)?;
        match pl.decl.as_slice() {
            [] => Ok(vec![Frag::Tag(format!("{tag} {}", e.s))]),
            [v] if tag == "if" => {
                let (kw, n) = self.declare(v, e.ty, pl.assign)?;
                Ok(vec![
                    Frag::Tag(format!("{kw} {n} = {}", e.s)),
                    Frag::Tag(format!("if {n}")),
                ])
            }
            _ => Err(
                "a variable declared in `else if`: declare it in its own action before the `if`"
                    .into(),
            ),
        }
    }

    fn range(&mut self, pl: &Pipeline) -> Result<Vec<Frag>, String> {
        let e = expr::pipeline(self, pl)?;
        if pl.assign {
            return Err(
                "`range` assigning outer variables (`=`): tera loops cannot; use `:=`".into(),
            );
        }
        let mut frags = Vec::new();
        let container = if e.iter {
            e.s.clone()
        } else {
            let t = self.fresh("items");
            frags.push(Frag::Tag(format!("set {t} = {}", e.s)));
            t
        };
        let is_map = e.ty == Ty::Map || (pl.decl.len() == 2 && e.ty == Ty::Other);
        self.loops.push(Loop::default());
        let depth = self.loops.len();
        let bind = |c: &mut Self, go: &str, index: bool| -> Result<String, String> {
            let tera = var_name(go)?;
            c.vars.push(Var {
                go: go.into(),
                tera: tera.clone(),
                ty: Ty::Other,
                depth,
                index_of: index.then_some(depth - 1),
            });
            Ok(tera)
        };
        let value = match pl.decl.last() {
            Some(v) => bind(self, v, false)?,
            None if is_map => self.fresh("value"),
            None => self.fresh(expr::base_name(pl, "item")),
        };
        let tag = if is_map {
            let key = match pl.decl.as_slice() {
                [k, _] => bind(self, k, false)?,
                _ => self.fresh("key"),
            };
            format!("for {key}, {value} in {container}")
        } else {
            if let [i, _] = pl.decl.as_slice() {
                bind(self, i, true)?;
            }
            format!("for {value} in {container}")
        };
        self.dots.push((value, Ty::Other));
        frags.push(Frag::Tag(tag));
        Ok(frags)
    }

    pub(super) fn open(
        &mut self,
        kw: &str,
        pl: Result<Pipeline, String>,
        a: &Action<'_>,
    ) -> Vec<Frag> {
        let mark = self.mark();
        let (kind, res) = match kw {
            "if" => (Kind::If, pl.and_then(|pl| self.cond(&pl, "if"))),
            "with" => (Kind::With, pl.and_then(|pl| self.with(&pl))),
            _ => (Kind::Range, pl.and_then(|pl| self.range(&pl))),
        };
        let frags = res.unwrap_or_else(|why| {
            self.restore(mark);
            self.notes.clear();
            let placeholder = if kind == Kind::Range { "`[]`" } else { "`false`" };
            self.report(a.line, format!("{why}; the block is kept with {placeholder} in place of the condition: write it by hand"));
            let tag = if kind == Kind::Range {
                let v = self.fresh("item");
                self.loops.push(Loop::default());
                self.dots.push((v.clone(), Ty::Other));
                format!("for {v} in []")
            } else {
                if kind == Kind::With {
                    let v = self.fresh("v");
                    self.dots.push((v, Ty::Other));
                }
                "if false".into()
            };
            vec![Self::unconverted_comment(a), Frag::Tag(tag)]
        });
        self.blocks.push(Block {
            kind,
            line: a.line,
            else_seen: false,
            endifs: 0,
            mark,
        });
        frags
    }

    pub(super) fn else_(
        &mut self,
        p: &mut scan::Parser,
        a: &Action<'_>,
    ) -> Result<Vec<Frag>, String> {
        let Some(b) = self.blocks.last() else {
            return Err("`else` without an open if, with or range".into());
        };
        if b.else_seen {
            return Err("a second `else` in the same block".into());
        }
        let (mark, range) = (b.mark, b.kind == Kind::Range);
        let cond = matches!(b.kind, Kind::If | Kind::With);
        let next = p.keyword();
        let res = match next {
            None if p.rest().is_empty() && (cond || range) => {
                let m = if range { mark } else { Mark { dots: mark.dots, ..self.mark() } };
                self.restore(m);
                if let Some(b) = self.blocks.last_mut() {
                    b.else_seen = true;
                }
                self.trim_next = range && a.tr;
                self.no_tl = range;
                self.no_tr = range;
                return Ok(vec![Frag::Tag("else".into())]);
            }
            Some("if") if cond => {
                self.dots.truncate(mark.dots);
                p.finish().and_then(|pl| self.cond(&pl, "elif"))
            }
            Some("with") if cond => {
                self.dots.truncate(mark.dots);
                if let Some(b) = self.blocks.last_mut() {
                    b.endifs += 1;
                }
                p.finish()
                    .and_then(|pl| self.with(&pl))
                    .map(|f| [Frag::Tag("else".into())].into_iter().chain(f).collect())
            }
            _ => return Err("this `else` has no tera form here (inside `define`/`block`, or `else if` after `range`)".into()),
        };
        Ok(res.unwrap_or_else(|why| {
            self.notes.clear();
            self.report(
                a.line,
                format!("{why}; kept as `false`: write the condition by hand"),
            );
            let mut frags = vec![Self::unconverted_comment(a)];
            if next == Some("if") {
                frags.push(Frag::Tag("elif false".into()));
            } else {
                frags.extend([Frag::Tag("else".into()), Frag::Tag("if false".into())]);
            }
            frags
        }))
    }

    /// `define`/`block`: reported; the body is kept (inert unless `block "x" .`).
    pub(super) fn inert(&mut self, kw: &str, p: &mut scan::Parser, a: &Action<'_>) -> Vec<Frag> {
        let mark = self.mark();
        let name = p.string().unwrap_or_default();
        let in_place = kw == "block" && matches!(p.rest(), [t] if t.tok == Tok::Dot);
        let mac = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect::<String>();
        let how = format!("turn it into a tera macro at the top of the file (`{{% macro {mac}(dot) %}}...{{% endmacro %}}`, with `.` as `dot`) and call it with `{{{{ self::{mac}(dot=...) }}}}`");
        let kind = if in_place {
            self.report(a.line, format!("`block` is a define rendered in place: its body is kept here as is; to reuse it elsewhere, {how}"));
            Kind::Open(name)
        } else {
            self.report(a.line, format!("`{kw}` has no tera form: its body is kept inside `{{% if false %}}` with `.` written as `dot`; {how}"));
            let d = self.fresh("dot");
            self.dots.push((d, Ty::Other));
            Kind::Inert
        };
        let mut frags = vec![Self::unconverted_comment(a)];
        if kind == Kind::Inert {
            frags.push(Frag::Tag("if false".into()));
        }
        self.blocks.push(Block {
            kind,
            line: a.line,
            else_seen: false,
            endifs: 0,
            mark,
        });
        frags
    }
}
