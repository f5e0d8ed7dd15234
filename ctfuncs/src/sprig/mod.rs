//! Sprig v3's function library (Masterminds/sprig 3.2.3, `TxtFuncMap`), as
//! consul-template offers it: every function under a prefix (`sprig_`).
//!
//! Each function takes Go's arguments in Go's order and converts them as
//! Sprig does: `interface{}` parameters through spf13/cast (`add` sums the
//! int64 of each argument, so `"2"` counts as 2 and `"x"` as 0), typed
//! parameters with text/template's "wrong type" errors. Functions that
//! panic in Go fail here with the panic's message; functions that swallow
//! errors in Go (`fromJson`, `toDate`, `b64dec`) swallow them here.
//!
//! # Limits
//!
//! A template must not be able to make one call allocate without bound:
//! - a string a function builds (`repeat`, `indent`, `wrap`, `randAlpha`,
//!   ...) is at most [`MAX_STRING`] bytes;
//! - a list a function builds (`until`, `untilStep`, `seq`, `chunk`) has
//!   at most [`MAX_ITEMS`] elements;
//! - `getHostByName` waits at most [`LOOKUP_TIMEOUT`] and runs at most
//!   [`MAX_LOOKUPS`] lookups at once;
//! - `bcrypt`, `derivePassword` and the key generators are CPU-heavy by
//!   design (as in Go); they run on the rendering thread.
//!
//! Past a limit the call fails with an error naming the limit.

use gotemplate::{FuncError, Funcs, Value};

pub use network::{LOOKUP_TIMEOUT, MAX_LOOKUPS};

mod conv;
mod crypto;
mod dates;
mod decimal;
mod defaults;
mod dicts;
mod duration;
mod encoding;
mod json;
mod layout;
mod lists;
mod math;
mod network;
mod os;
mod paths;
mod random;
mod reflect;
mod regex;
mod semver;
mod strings;
mod text;
mod time;
mod timeparse;
mod url;

/// The largest string one call may build, in bytes (16 MiB).
pub const MAX_STRING: usize = 16 << 20;
/// The most elements one call may put in a list (1,000,000).
pub const MAX_ITEMS: usize = 1_000_000;

/// Adds the Sprig functions to `funcs`, each name with `prefix`
/// (consul-template uses `sprig_`).
pub fn install(funcs: &mut Funcs, prefix: &str) {
    register(&mut Reg {
        funcs,
        prefix,
        names: Vec::new(),
    });
}

/// Every name Sprig's `TxtFuncMap` holds (without a prefix), sorted.
pub fn names() -> Vec<&'static str> {
    let mut funcs = Funcs::new();
    let mut r = Reg {
        funcs: &mut funcs,
        prefix: "",
        names: Vec::new(),
    };
    register(&mut r);
    let mut names = r.names;
    names.sort_unstable();
    names
}

fn register(r: &mut Reg<'_>) {
    strings::install(r);
    text::install(r);
    lists::install(r);
    dicts::install(r);
    math::install(r);
    defaults::install(r);
    encoding::install(r);
    reflect::install(r);
    paths::install(r);
    json::install(r);
    regex::install(r);
    dates::install(r);
    semver::install(r);
    url::install(r);
    crypto::install(r);
    random::install(r);
    os::install(r);
    network::install(r);
}

/// Registers functions under a prefix.
pub(crate) struct Reg<'a> {
    funcs: &'a mut Funcs,
    prefix: &'a str,
    names: Vec<&'static str>,
}

impl Reg<'_> {
    /// Adds `name` taking `min` to `max` arguments (`None`: variadic).
    pub(crate) fn add<F>(&mut self, name: &'static str, min: usize, max: Option<usize>, f: F)
    where
        F: Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync + 'static,
    {
        self.names.push(name);
        self.funcs
            .add(&format!("{}{name}", self.prefix), min, max, move |_, a| {
                f(a)
            });
    }

    /// Adds `name` taking exactly `n` arguments.
    pub(crate) fn fixed<F>(&mut self, name: &'static str, n: usize, f: F)
    where
        F: Fn(&[Value]) -> Result<Value, FuncError> + Send + Sync + 'static,
    {
        self.add(name, n, Some(n), f);
    }
}

/// The error for a string that would pass [`MAX_STRING`].
pub(crate) fn too_long(bytes: u128) -> FuncError {
    FuncError::Call(format!(
        "the result would be {bytes} bytes, over the limit of {MAX_STRING} bytes"
    ))
}

/// Fails when a string of `bytes` would pass [`MAX_STRING`].
pub(crate) fn check_len(bytes: u128) -> Result<(), FuncError> {
    if bytes > MAX_STRING as u128 {
        Err(too_long(bytes))
    } else {
        Ok(())
    }
}

/// The error for a list that would pass [`MAX_ITEMS`].
pub(crate) fn too_many(items: u128) -> FuncError {
    FuncError::Call(format!(
        "the result would have {items} elements, over the limit of {MAX_ITEMS}"
    ))
}

#[cfg(test)]
mod tests;
