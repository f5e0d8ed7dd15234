//! Pipelines to tera expressions.
//!
//! Tera's grammar is narrower than Go's: filters apply to values, not to
//! conditions; `not` precedes a comparison, not a parenthesized `and`/`or`;
//! `~` joins only plain values; `[..]`, `in` and tests need a variable on
//! their left. [`K`] records which of these an expression's text is, so
//! each combination is either written in a form tera parses or refused
//! with a reason.

use super::scan::{Operand, Pipeline, Term};

mod funcs;

use funcs::{call, unsupported};

/// The syntactic kind of an expression's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum K {
    /// `a.b["c"]`.
    Path,
    /// `f(x=1)`.
    Call,
    Num,
    Bool,
    /// A string literal.
    Str,
    /// A value with filters.
    Filt,
    /// `a ~ "b"`.
    Concat,
    /// A string or concatenation with filters.
    StrF,
    /// `a + b`.
    Arith,
    /// A comparison, `in`, test or `not`.
    Logic,
    And,
    Or,
}

/// What a value holds, as far as the converter can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ty {
    List,
    Map,
    Other,
}

/// A tera expression.
#[derive(Clone, Debug)]
pub(super) struct Ex {
    /// Its text.
    pub s: String,
    pub k: K,
    pub ty: Ty,
    /// Usable as a for loop's container (a variable or call, filtered or not).
    pub iter: bool,
    lit: Option<String>,
    neg: Option<(String, K)>,
}

type R<T> = Result<T, String>;

impl Ex {
    fn new(s: impl Into<String>, k: K) -> Ex {
        Ex {
            s: s.into(),
            k,
            ty: Ty::Other,
            iter: matches!(k, K::Path | K::Call),
            lit: None,
            neg: None,
        }
    }

    fn ty(mut self, ty: Ty) -> Ex {
        self.ty = ty;
        self
    }

    fn string(v: &str) -> R<Ex> {
        let mut e = Ex::new(quote(v)?, K::Str);
        e.lit = Some(v.to_string());
        Ok(e)
    }
}

/// What the converter provides: the value of `.`, variables, and notes
/// to put before the converted action.
pub(super) trait Scope {
    /// The expression `.` stands for.
    fn dot(&self) -> R<(String, Ty)>;
    /// The expression `$name` stands for.
    fn var(&mut self, name: &str) -> R<(String, Ty)>;
    /// A remark to emit as a tera comment.
    fn note(&mut self, text: String);
}

/// Output of a `{{ }}` action: literal text and expressions.
#[derive(Debug)]
pub(super) enum OutPart {
    Text(String),
    Expr(String),
}

/// A tera string literal: tera has no escapes, so pick a quote not in it.
pub(super) fn quote(v: &str) -> R<String> {
    ['"', '\'', '`']
        .into_iter()
        .find(|q| !v.contains(*q))
        .map(|q| format!("{q}{v}{q}"))
        .ok_or_else(|| "a string holds \", ' and ` at once, which tera strings cannot".into())
}

/// Translates a pipeline, ignoring its declaration.
pub(super) fn pipeline(sc: &mut dyn Scope, p: &Pipeline) -> R<Ex> {
    let mut prev = None;
    for cmd in &p.cmds {
        prev = Some(command(sc, cmd, prev)?);
    }
    prev.ok_or_else(|| "empty pipeline".into())
}

/// Translates an output action's pipeline; `printf` at its end becomes
/// text and `{{ }}` parts when that keeps the trim markers meaningful.
pub(super) fn output(sc: &mut dyn Scope, p: &Pipeline, tl: bool, tr: bool) -> R<Vec<OutPart>> {
    let Some((last, init)) = p.cmds.split_last() else {
        return Err("empty pipeline".into());
    };
    if !matches!(&last[0].term, Term::Func(f) if f == "printf") || !last[0].fields.is_empty() {
        return Ok(vec![OutPart::Expr(printed(pipeline(sc, p)?))]);
    }
    let mut prev = None;
    for cmd in init {
        prev = Some(command(sc, cmd, prev)?);
    }
    let mut args = last[1..]
        .iter()
        .map(|o| operand(sc, o))
        .collect::<R<Vec<_>>>()?;
    args.extend(prev);
    if args.is_empty() {
        return Err("`printf` needs a format".into());
    }
    let fmt = args.remove(0);
    let parts = format_parts(&fmt, args)?;
    // Split into text and {{ }} unless a trim marker would then meet text,
    // or text ending in `{` would run into the next `{{`.
    let edge = |p: Option<&Part>| matches!(p, Some(Part::Lit(_)));
    let brace = parts
        .iter()
        .any(|p| matches!(p, Part::Lit(s) if s.ends_with('{')));
    let text_at_trim = (tl && edge(parts.first())) || (tr && edge(parts.last()));
    if parts.len() > 1 && !(brace || text_at_trim) {
        return Ok(parts
            .into_iter()
            .map(|p| match p {
                Part::Lit(s) => OutPart::Text(s),
                Part::Ex(e) => OutPart::Expr(printed(e)),
            })
            .collect());
    }
    Ok(vec![OutPart::Expr(concat(parts)?.s)])
}

/// An output expression printed as consul-template prints it: lists as
/// `[a b]`, maps as `map[k:v]`, floats as `1e+06` (templater's `print`
/// filter); strings and string-valued expressions as they are.
fn printed(e: Ex) -> String {
    // consul-template's fields that hold lists, maps or structs.
    const COLLECTIONS: &[&str] = &[
        "Tags",
        "Checks",
        "ServiceTags",
        "Meta",
        "NodeMeta",
        "ServiceMeta",
        "TaggedAddresses",
        "NodeTaggedAddresses",
        "ServiceTaggedAddresses",
        "Weights",
        "Services",
    ];
    let last =
        e.s.rsplit(['.', '['])
            .next()
            .unwrap_or_default()
            .trim_matches(|c| c == '"' || c == ']');
    let collection = matches!(e.ty, Ty::List | Ty::Map)
        || (e.k == K::Path && e.s.contains('.') && COLLECTIONS.contains(&last));
    if collection && matches!(e.k, K::Path | K::Call | K::Filt) {
        format!("{} | print", e.s)
    } else {
        e.s
    }
}

/// A loop or `with` variable name suggested by the pipeline's function.
pub(super) fn base_name(p: &Pipeline, default: &'static str) -> &'static str {
    let Some(Term::Func(f)) = p.cmds.first().map(|c| &c[0].term) else {
        return default;
    };
    match f.as_str() {
        "service" => "s",
        "services" => "svc",
        "nodes" => "n",
        "node" => "node",
        "ls" | "tree" | "safeLs" | "safeTree" => "pair",
        "datacenters" => "dc",
        "key" | "keyOrDefault" | "env" | "file" => "v",
        _ => default,
    }
}

fn command(sc: &mut dyn Scope, cmd: &[Operand], piped: Option<Ex>) -> R<Ex> {
    let first = &cmd[0];
    if let Term::Func(name) = &first.term {
        if let Some(why) = unsupported(name) {
            return Err(why);
        }
        if !first.fields.is_empty() {
            return Err(format!("tera cannot read a field of `{name}`'s result: set it to a variable first ({{% set x = ... %}}) and use x.{}", first.fields[0]));
        }
        let mut args = cmd[1..]
            .iter()
            .map(|o| operand(sc, o))
            .collect::<R<Vec<_>>>()?;
        args.extend(piped);
        return call(sc, name, args);
    }
    if cmd.len() > 1 || piped.is_some() {
        return Err("a value is called with arguments (a method call or a misplaced pipe), which tera cannot do".into());
    }
    operand(sc, first)
}

fn operand(sc: &mut dyn Scope, o: &Operand) -> R<Ex> {
    let base = match &o.term {
        Term::Str(s) => Ex::string(s)?,
        Term::Int(n) => Ex::new(n.to_string(), K::Num),
        Term::Float(f) => {
            let s = f.to_string();
            Ex::new(if s.contains('.') { s } else { format!("{s}.0") }, K::Num)
        }
        Term::Bool(b) => Ex::new(b.to_string(), K::Bool),
        Term::Nil => {
            return Err(
                "`nil` has no tera literal: test the value itself (`if x` / `if not x`)".into(),
            )
        }
        Term::Dot => {
            let (s, ty) = sc.dot()?;
            Ex::new(s, K::Path).ty(ty)
        }
        Term::Var(v) => {
            let (s, ty) = sc.var(v)?;
            Ex::new(s, K::Path).ty(ty)
        }
        Term::Func(_) => return command(sc, std::slice::from_ref(o), None),
        Term::Sub(p) => pipeline(sc, p)?,
    };
    fields(base, &o.fields)
}

fn fields(mut e: Ex, fs: &[String]) -> R<Ex> {
    let Some(last) = fs.last() else {
        return Ok(e);
    };
    if e.k != K::Path {
        return Err(format!("tera cannot read a field of `{}`: set it to a variable first ({{% set x = ... %}}) and use x.{}", e.s, fs[0]));
    }
    for f in fs {
        if !f.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "field `{f}` is not an ASCII name, which tera needs"
            ));
        }
        e.s.push('.');
        e.s.push_str(f);
    }
    e.ty = match last.as_str() {
        "Tags" | "Services" | "Checks" | "ServiceTags" | "Nodes" => Ty::List,
        "ServiceMeta"
        | "NodeMeta"
        | "Meta"
        | "TaggedAddresses"
        | "NodeTaggedAddresses"
        | "ServiceTaggedAddresses"
        | "Weights" => Ty::Map,
        _ => Ty::Other,
    };
    Ok(e)
}

fn filter(e: Ex, f: &str) -> R<Ex> {
    let (s, k, iter) = match e.k {
        K::Path | K::Call | K::Num | K::Bool | K::Filt => {
            (format!("{} | {f}", e.s), K::Filt, e.iter)
        }
        K::Str | K::Concat | K::StrF => (format!("{} | {f}", e.s), K::StrF, false),
        K::Arith => (format!("({}) | {f}", e.s), K::Filt, false),
        _ => {
            return Err(format!(
            "tera cannot filter a condition (`{} | {f}`): set the condition to a variable first",
            e.s
        ))
        }
    };
    Ok(Ex {
        iter,
        ..Ex::new(s, k)
    })
}

/// Whether an expression may stand beside `==`, `in`, or in a kwarg-free operand position.
fn value(e: &Ex) -> R<&str> {
    match e.k {
        K::Logic | K::And | K::Or => Err(format!(
            "tera cannot compare or test the condition `{}`: set it to a variable first",
            e.s
        )),
        _ => Ok(&e.s),
    }
}

fn compare(a: &Ex, op: &str, b: &Ex) -> R<Ex> {
    Ok(Ex::new(
        format!("{} {op} {}", value(a)?, value(b)?),
        K::Logic,
    ))
}

fn not(e: Ex) -> Ex {
    match e.neg {
        Some((s, k)) => Ex {
            neg: Some((e.s, e.k)),
            ..Ex::new(s, k)
        },
        None => Ex {
            neg: Some((e.s.clone(), e.k)),
            ..Ex::new(format!("not {}", e.s), K::Logic)
        },
    }
}

fn join(items: Vec<(String, K)>, op: K) -> String {
    let word = if op == K::And { " and " } else { " or " };
    let parts: Vec<String> = items
        .into_iter()
        .map(|(s, k)| {
            if matches!(k, K::And | K::Or) && k != op {
                format!("({s})")
            } else {
                s
            }
        })
        .collect();
    parts.join(word)
}

/// `and`/`or`; the negation is kept by De Morgan, since tera's `not`
/// cannot precede parentheses.
fn logic(and: bool, mut items: Vec<Ex>) -> Ex {
    if items.len() == 1 {
        return items.remove(0);
    }
    let (op, flip) = if and {
        (K::And, K::Or)
    } else {
        (K::Or, K::And)
    };
    let s = join(items.iter().map(|e| (e.s.clone(), e.k)).collect(), op);
    let neg = join(
        items.into_iter().map(not).map(|e| (e.s, e.k)).collect(),
        flip,
    );
    Ex {
        neg: Some((neg, flip)),
        ..Ex::new(s, op)
    }
}

fn arith(a: &Ex, op: &str, b: &Ex) -> R<Ex> {
    let side = |e: &Ex| match e.k {
        K::Path | K::Call | K::Num => Ok(e.s.clone()),
        K::Arith => Ok(format!("({})", e.s)),
        _ => Err(format!(
            "tera cannot do arithmetic on `{}`: set it to a variable first",
            e.s
        )),
    };
    Ok(Ex::new(format!("{} {op} {}", side(a)?, side(b)?), K::Arith))
}

fn index(base: Ex, key: &Ex) -> R<Ex> {
    let int = key.k == K::Num && key.s.parse::<i64>().is_ok_and(|n| n >= 0);
    if base.k == K::Path && (int || matches!(key.k, K::Str | K::Path)) {
        return Ok(Ex::new(format!("{}[{}]", base.s, key.s), K::Path));
    }
    match key.k {
        _ if int => filter(base, &format!("nth(n={})", key.s)),
        K::Str | K::Path | K::Concat => filter(base, &format!("get(key={}, default=\"\")", key.s)),
        _ => Err(format!(
            "tera cannot index with `{}`: set the key to a variable first",
            key.s
        )),
    }
}

fn contains(needle: &Ex, list: Ex) -> R<Ex> {
    if matches!(list.k, K::Path | K::Str | K::Concat | K::StrF) && value(needle).is_ok() {
        return Ok(Ex::new(format!("{} in {}", needle.s, list.s), K::Logic));
    }
    filter(list, &format!("contains(value={})", needle.s))
}

/// A piece of a concatenation.
#[derive(Debug)]
enum Part {
    Lit(String),
    Ex(Ex),
}

fn part(e: Ex) -> Part {
    match e.lit {
        Some(l) if e.k == K::Str => Part::Lit(l),
        _ => Part::Ex(e),
    }
}

fn concat(parts: Vec<Part>) -> R<Ex> {
    let mut merged: Vec<Part> = Vec::new();
    for p in parts {
        match (merged.last_mut(), p) {
            (Some(Part::Lit(a)), Part::Lit(b)) => a.push_str(&b),
            (_, p) => merged.push(p),
        }
    }
    merged.retain(|p| !matches!(p, Part::Lit(s) if s.is_empty()));
    if merged.len() <= 1 {
        return match merged.pop() {
            None => Ex::string(""),
            Some(Part::Lit(s)) => Ex::string(&s),
            Some(Part::Ex(e)) => Ok(e),
        };
    }
    let mut out = Vec::new();
    for p in merged {
        out.push(match p {
            Part::Lit(s) => quote(&s)?,
            Part::Ex(e) if matches!(e.k, K::Path | K::Call | K::Num | K::Str | K::Concat) => e.s,
            Part::Ex(e) => {
                return Err(format!(
                    "tera's `~` cannot join `{}`: set it to a variable first",
                    e.s
                ))
            }
        });
    }
    Ok(Ex::new(out.join(" ~ "), K::Concat))
}

fn format_parts(fmt: &Ex, args: Vec<Ex>) -> R<Vec<Part>> {
    let f = match (&fmt.lit, fmt.k) {
        (Some(f), K::Str) => f,
        _ => return Err("`printf` with a computed format: write the text by hand".into()),
    };
    let (mut parts, mut lit, mut args) = (Vec::new(), String::new(), args.into_iter());
    let mut chars = f.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            lit.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => lit.push('%'),
            Some('s' | 'd' | 'v') => {
                parts.push(Part::Lit(std::mem::take(&mut lit)));
                let a = args
                    .next()
                    .ok_or("`printf` has more verbs than arguments")?;
                parts.push(part(a));
            }
            v => {
                let v = v.map(String::from).unwrap_or_default();
                return Err(format!("`printf` verb `%{v}`: only %s, %d and %v convert; format the value with tera filters (e.g. `| round`, `| truncate`) by hand"));
            }
        }
    }
    parts.push(Part::Lit(lit));
    if args.next().is_some() {
        return Err("`printf` has more arguments than verbs".into());
    }
    parts.retain(|p| !matches!(p, Part::Lit(s) if s.is_empty()));
    Ok(parts)
}
