//! The compiled templates of one configuration, in Go's text/template
//! syntax (consul-template's) or tera's.
//!
//! Templates with the same function settings (`function_denylist`,
//! `sandbox_path`) share one function table: one tera instance (tera's
//! built-in filters, testers and functions and the Consul functions
//! registered once per group, not once per template) and one Go function
//! table. With 1,000 templates that is the difference between 1,000 parsed
//! templates and 1,000 parsed templates plus 1,000 function tables (about
//! 15 KiB each).
//!
//! Rendering is sequential (the runner's one task), so a group's [`Env`]
//! records the dependencies of the template being rendered.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::funcs::{Brain, Env, Scope};
use crate::locate::{render_error, tera_error};
use crate::syntax::{hint, Syntax};

/// Compiles one template's text into its own tera instance (`templater
/// check`, which has no [`Templates`] set).
pub fn compile(env: &Env, text: &str) -> std::result::Result<tera::Tera, String> {
    let mut tera = tera::Tera::default();
    env.install(&mut tera);
    tera.add_raw_template("template", text)
        .map_err(|e| tera_error(&e))?;
    Ok(tera)
}

/// Where a template lives in [`Templates`].
#[derive(Debug, Clone)]
pub struct Slot {
    group: usize,
    name: String,
}

struct Group {
    denylist: Vec<String>,
    sandbox: Option<PathBuf>,
    env: Env,
    tera: tera::Tera,
    go_funcs: Option<gotemplate::Funcs>,
    go: HashMap<String, gotemplate::Template>,
}

/// Why a render failed.
#[derive(Debug)]
pub enum RenderError {
    /// A tera template's error.
    Tera(tera::Error),
    /// A Go template's error (it names the template, line and column).
    Go(gotemplate::Error),
}

impl RenderError {
    /// The message for a person: the template's name, the line, the problem.
    pub fn describe(&self, name: &str, text: &str) -> String {
        match self {
            RenderError::Tera(e) => render_error(name, text, e),
            RenderError::Go(e) => e.to_string(),
        }
    }
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenderError::Tera(e) => f.write_str(&tera_error(e)),
            RenderError::Go(e) => write!(f, "{e}"),
        }
    }
}

/// Every template of a configuration, grouped by function settings.
pub struct Templates {
    brain: Arc<Mutex<Brain>>,
    vars: Arc<HashMap<String, String>>,
    groups: Vec<Group>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("groups", &self.groups.len())
            .finish()
    }
}

impl Templates {
    /// No templates yet; their functions read `brain` and see `vars`.
    pub fn new(brain: Arc<Mutex<Brain>>, vars: Arc<HashMap<String, String>>) -> Templates {
        Templates {
            brain,
            vars,
            groups: Vec::new(),
        }
    }

    /// The slot of template number `i` with these function settings.
    ///
    /// The tera name is neutral (`template 12`), so that no file suffix
    /// such as `.html` turns on tera's auto-escaping: consul-template never
    /// escapes, and neither does a template here.
    pub fn slot(&mut self, i: usize, denylist: &[String], sandbox: Option<&PathBuf>) -> Slot {
        let found = self
            .groups
            .iter()
            .position(|g| g.denylist == denylist && g.sandbox.as_ref() == sandbox);
        let group = found.unwrap_or_else(|| {
            let env = Env::new(
                Arc::clone(&self.brain),
                Arc::clone(&self.vars),
                denylist,
                sandbox.cloned(),
            );
            let mut tera = tera::Tera::default();
            env.install(&mut tera);
            self.groups.push(Group {
                denylist: denylist.to_vec(),
                sandbox: sandbox.cloned(),
                env,
                tera,
                go_funcs: None,
                go: HashMap::new(),
            });
            self.groups.len() - 1
        });
        Slot {
            group,
            name: format!("template {i}"),
        }
    }

    /// Compiles `text` as the tera template of `slot`. On an error the
    /// previous version (if any) stays, and the message has the line and
    /// column (and a hint when the text looks like a Go template).
    pub fn compile(&mut self, slot: &Slot, text: &str) -> Result<(), String> {
        let g = &mut self.groups[slot.group];
        let tera = &mut g.tera;
        let previous = tera.templates.get(&slot.name).cloned();
        match tera.add_raw_template(&slot.name, text) {
            Ok(()) => {
                g.go.remove(&slot.name);
                Ok(())
            }
            Err(e) => {
                // A parse error inserts nothing; an inheritance or macro
                // error leaves the new template in: put the old one back.
                match previous {
                    Some(t) => {
                        tera.templates.insert(slot.name.clone(), t);
                    }
                    None => {
                        tera.templates.remove(&slot.name);
                    }
                }
                let _ = tera.build_inheritance_chains();
                let mut msg = tera_error(&e).replace(&format!("'{}'", slot.name), "the template");
                if let Some(h) = hint(Syntax::Tera, text) {
                    msg.push_str("; ");
                    msg.push_str(&h);
                }
                Err(msg)
            }
        }
    }

    /// Compiles `text` as the Go (consul-template) template of `slot`,
    /// named `name` in its errors. On an error the previous version (if
    /// any) stays.
    pub fn compile_go(
        &mut self,
        slot: &Slot,
        name: &str,
        text: &str,
        options: &gotemplate::Options,
    ) -> Result<(), String> {
        let g = &mut self.groups[slot.group];
        let funcs = g
            .go_funcs
            .get_or_insert_with(|| crate::gofuncs::funcs(&g.env));
        match gotemplate::Template::parse(name, text, funcs, options) {
            Ok(t) => {
                g.go.insert(slot.name.clone(), t);
                g.tera.templates.remove(&slot.name);
                Ok(())
            }
            Err(e) => {
                let mut msg = e.to_string();
                if let Some(h) = hint(Syntax::Go, text) {
                    msg.push_str("; ");
                    msg.push_str(&h);
                }
                Err(msg)
            }
        }
    }

    /// Whether `slot` has a compiled template.
    pub fn has(&self, slot: &Slot) -> bool {
        let g = &self.groups[slot.group];
        g.go.contains_key(&slot.name) || g.tera.templates.contains_key(&slot.name)
    }

    /// Renders `slot`, with the dependencies the render used.
    pub fn render(&self, slot: &Slot) -> (Result<String, RenderError>, Scope) {
        let g = &self.groups[slot.group];
        g.env.begin();
        let result = match g.go.get(&slot.name) {
            Some(t) => t
                .execute(&gotemplate::Value::Missing)
                .map_err(RenderError::Go),
            None => g
                .tera
                .render(&slot.name, &tera::Context::new())
                .map_err(RenderError::Tera),
        };
        (result, g.env.take_scope())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn templates() -> (Templates, Arc<Mutex<Brain>>) {
        let brain = Arc::new(Mutex::new(Brain::default()));
        let t = Templates::new(Arc::clone(&brain), Arc::new(HashMap::new()));
        (t, brain)
    }

    #[test]
    fn templates_with_the_same_settings_share_one_instance_and_keep_their_own_deps() {
        let (mut set, brain) = templates();
        let a = set.slot(0, &[], None);
        let b = set.slot(1, &[], None);
        let c = set.slot(2, &["key".into()], None);
        assert_eq!(set.groups.len(), 2);
        set.compile(&a, r#"a={{ key(path="x") }}"#).unwrap();
        set.compile(&b, r#"b={{ key(path="y") }}"#).unwrap();
        set.compile(&c, r#"c={{ key(path="x") }}"#).unwrap();
        brain
            .lock()
            .unwrap()
            .insert("kv.block(x)".into(), json!("1"));
        let (out, scope) = set.render(&a);
        let used: Vec<&String> = scope.used.keys().collect();
        assert_eq!(out.unwrap(), "a=1");
        assert_eq!(used.len(), 1, "{used:?}");
        let (_, scope) = set.render(&b);
        assert_eq!(scope.missing.len(), 1, "y has no data: {:?}", scope.missing);
        let (out, _) = set.render(&c);
        let e = out.unwrap_err().to_string();
        assert!(e.contains("function_denylist"), "{e}");
    }

    #[test]
    fn a_broken_edit_keeps_the_previous_version() {
        let (mut set, _) = templates();
        let a = set.slot(0, &[], None);
        set.compile(&a, "one").unwrap();
        let e = set.compile(&a, "{{ oops").unwrap_err();
        assert!(e.contains("1:"), "line and column: {e}");
        let e = set.compile(&a, r#"{% extends "missing" %}"#).unwrap_err();
        assert!(e.contains("missing"), "{e}");
        assert_eq!(set.render(&a).0.unwrap(), "one");
        let b = set.slot(1, &[], None);
        assert!(!set.has(&b));
        set.compile(&b, "two").unwrap();
        assert_eq!(set.render(&b).0.unwrap(), "two");
    }

    #[test]
    fn html_suffixes_in_content_never_turn_on_escaping() {
        let (mut set, brain) = templates();
        let a = set.slot(0, &[], None);
        set.compile(&a, r#"{{ key(path="h") }}"#).unwrap();
        brain
            .lock()
            .unwrap()
            .insert("kv.block(h)".into(), json!("<b>&</b>"));
        assert_eq!(set.render(&a).0.unwrap(), "<b>&</b>");
    }
}
