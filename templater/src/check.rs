//! `templater check`: validates config and templates without Consul.
//!
//! It reads the config, reads and parses every template (syntax errors come
//! with line and column), finds calls to unknown functions and filters, and
//! renders each template once with no data to catch bad arguments.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tera::ast::{Expr, ExprVal, FunctionCall, Node};

use crate::cli::RunArgs;
use crate::config::line_of;
use crate::funcs::{Brain, Env};
use crate::templates::compile;

/// Function and filter names used by a template.
#[derive(Debug, Default)]
struct Calls {
    functions: BTreeSet<String>,
    filters: BTreeSet<String>,
}

fn walk_call(c: &FunctionCall, out: &mut Calls, filter: bool) {
    if filter {
        out.filters.insert(c.name.clone());
    } else {
        out.functions.insert(c.name.clone());
    }
    for a in c.args.values() {
        walk_expr(a, out);
    }
}

fn walk_expr(e: &Expr, out: &mut Calls) {
    for f in &e.filters {
        walk_call(f, out, true);
    }
    walk_val(&e.val, out);
}

fn walk_val(v: &ExprVal, out: &mut Calls) {
    match v {
        ExprVal::Math(m) => {
            walk_expr(&m.lhs, out);
            walk_expr(&m.rhs, out);
        }
        ExprVal::Logic(l) => {
            walk_expr(&l.lhs, out);
            walk_expr(&l.rhs, out);
        }
        ExprVal::In(i) => {
            walk_expr(&i.lhs, out);
            walk_expr(&i.rhs, out);
        }
        ExprVal::Test(t) => t.args.iter().for_each(|a| walk_expr(a, out)),
        ExprVal::MacroCall(m) => m.args.values().for_each(|a| walk_expr(a, out)),
        ExprVal::FunctionCall(f) => walk_call(f, out, false),
        ExprVal::Array(items) => items.iter().for_each(|a| walk_expr(a, out)),
        ExprVal::StringConcat(s) => s.values.iter().for_each(|v| walk_val(v, out)),
        ExprVal::String(_)
        | ExprVal::Int(_)
        | ExprVal::Float(_)
        | ExprVal::Bool(_)
        | ExprVal::Ident(_) => {}
    }
}

fn walk(nodes: &[Node], out: &mut Calls) {
    for n in nodes {
        match n {
            Node::VariableBlock(_, e) => walk_expr(e, out),
            Node::MacroDefinition(_, m, _) => {
                m.args.values().flatten().for_each(|a| walk_expr(a, out));
                walk(&m.body, out);
            }
            Node::Set(_, s) => walk_expr(&s.value, out),
            Node::FilterSection(_, f, _) => {
                walk_call(&f.filter, out, true);
                walk(&f.body, out);
            }
            Node::Block(_, b, _) => walk(&b.body, out),
            Node::Forloop(_, f, _) => {
                walk_expr(&f.container, out);
                walk(&f.body, out);
                if let Some(e) = &f.empty_body {
                    walk(e, out);
                }
            }
            Node::If(i, _) => {
                for (_, cond, body) in &i.conditions {
                    walk_expr(cond, out);
                    walk(body, out);
                }
                if let Some((_, body)) = &i.otherwise {
                    walk(body, out);
                }
            }
            _ => {}
        }
    }
}

/// Checks everything `args` names; returns the problems as `path:line: message`.
pub async fn check(args: &RunArgs) -> (Vec<String>, usize) {
    let cfg = match args.to_config() {
        Ok(c) => c,
        Err(e) => return (vec![e.to_string()], 0),
    };
    let mut problems = Vec::new();
    let brain = Arc::new(Mutex::new(Brain::default()));
    let vars: Arc<HashMap<String, String>> = Arc::new(std::env::vars().collect());
    for t in &cfg.templates {
        let (label, text) = match (&t.source, &t.contents) {
            (Some(p), _) => match tokio::fs::read_to_string(p).await {
                Ok(text) => (p.display().to_string(), text),
                Err(e) => {
                    problems.push(format!(
                        "{}: cannot read the template: {e} (defined in {})",
                        p.display(),
                        t.origin
                    ));
                    continue;
                }
            },
            (None, Some(c)) => (format!("{} (inline)", t.origin), c.clone()),
            (None, None) => continue,
        };
        let env = Env::new(
            Arc::clone(&brain),
            Arc::clone(&vars),
            &t.function_denylist,
            t.sandbox_path.clone(),
        );
        let syntax = t.syntax.unwrap_or_else(|| {
            crate::syntax::detect(
                t.source.as_deref(),
                t.custom_delimiters(&cfg.default_delimiters),
                &text,
            )
        });
        if syntax == crate::syntax::Syntax::Go {
            // A Go template is checked for syntax, functions and nesting: a
            // render without data can fail where consul-template's first
            // pass fails too (`index (service "x") 0`), so it is not run.
            let funcs = crate::gofuncs::funcs(&env);
            if let Err(e) = gotemplate::Template::parse(
                &label,
                &text,
                &funcs,
                &t.go_options(&cfg.default_delimiters),
            ) {
                let mut msg = e.to_string();
                if let Some(h) = crate::syntax::hint(syntax, &text) {
                    msg.push_str("; ");
                    msg.push_str(&h);
                }
                problems.push(msg);
            }
            continue;
        }
        if let Err(e) = crate::runner::nesting::check(&text) {
            problems.push(format!("{label}:{}: {}", e.line, e.message));
            continue;
        }
        let tera = match compile(&env, &text) {
            Ok(tera) => tera,
            Err(e) => {
                let mut msg = format!("{label}: {e}");
                if let Some(h) = crate::syntax::hint(syntax, &text) {
                    msg.push_str("; ");
                    msg.push_str(&h);
                }
                problems.push(msg);
                continue;
            }
        };
        let mut calls = Calls::default();
        if let Ok(tpl) = tera.get_template("template") {
            walk(&tpl.ast, &mut calls);
        }
        let mut unknown = false;
        for f in &calls.functions {
            if tera.get_function(f).is_err() {
                unknown = true;
                problems.push(format!(
                    "{label}:{}: unknown function `{f}` (templater has {})",
                    line_of(&text, &format!("{f}(")),
                    crate::funcs::FUNCTIONS.join(", ")
                ));
            }
        }
        for f in &calls.filters {
            if tera.get_filter(f).is_err() {
                unknown = true;
                problems.push(format!(
                    "{label}:{}: unknown filter `{f}`",
                    line_of(&text, f)
                ));
            }
        }
        if unknown {
            continue;
        }
        env.begin();
        if let Err(e) = tera.render("template", &tera::Context::new()) {
            problems.push(format!(
                "{} (rendering with no data yet)",
                crate::locate::render_error(&label, &text, &e)
            ));
        }
    }
    (problems, cfg.templates.len())
}
