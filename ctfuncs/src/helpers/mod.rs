//! consul-template helper functions (filled in per function group).
use gotemplate::Funcs;

use crate::Env;

/// Adds the helpers to `funcs`.
pub fn install(_funcs: &mut Funcs, _env: &Env) {}
