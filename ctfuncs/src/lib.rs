//! The template functions of consul-template that need no Consul: its
//! helpers (`byTag`, `toJSON`, `indent`, `loop`, `scratch`, math, ...) and
//! Sprig's library (as `sprig_*`), as [`gotemplate`] functions.
//!
//! Each function takes its arguments in consul-template's order (the piped
//! value last) and fails as consul-template does (bad base64, `mustEnv` of
//! an unset variable, a negative `indent` ...). The functions that read
//! Consul (`service`, `key`, ...) live in templater, which owns the
//! dependencies they record.

#![warn(missing_docs)]

pub mod args;
pub mod helpers;
pub mod sprig;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use gotemplate::Funcs;

/// What the functions may see of the world: the environment, the clock,
/// and the limits of the functions that reach outside the template.
#[derive(Clone, Debug)]
pub struct Env {
    /// Variables `env`, `mustEnv` and `envOrDefault` read (consul-template
    /// passes the runner's environment, which wins over the process's).
    pub vars: Arc<HashMap<String, String>>,
    /// The clock `timestamp` reads (tests set a fixed time).
    pub now: fn() -> SystemTime,
    /// How long `plugin` may run (consul-template: 30 s).
    pub plugin_timeout: Duration,
    /// Where `writeToFile` may write (`None`: anywhere the process may).
    pub sandbox: Option<PathBuf>,
}

impl Default for Env {
    fn default() -> Env {
        Env {
            vars: Arc::new(std::env::vars().collect()),
            now: SystemTime::now,
            plugin_timeout: Duration::from_secs(30),
            sandbox: None,
        }
    }
}

/// Adds consul-template's helper functions and Sprig's (`sprig_*`) to `funcs`.
pub fn install(funcs: &mut Funcs, env: &Env) {
    helpers::install(funcs, env);
    sprig::install(funcs, "sprig_");
}
