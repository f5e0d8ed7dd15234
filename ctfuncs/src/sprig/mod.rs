//! Sprig v3 functions (filled in per function group).
use gotemplate::Funcs;

/// Adds the Sprig functions to `funcs`, each name with `prefix`.
pub fn install(_funcs: &mut Funcs, _prefix: &str) {}
