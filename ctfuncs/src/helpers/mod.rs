//! consul-template's helper functions (`template/funcs.go`), with its
//! names, argument order (the piped value last), Go types and errors.
//!
//! | group | functions |
//! |---|---|
//! | environment | `env mustEnv envOrDefault executeTemplate timestamp` |
//! | strings | `join split splitToMap trim trimPrefix trimSuffix trimSpace replaceAll regexReplaceAll regexMatch toLower toUpper toTitle indent` |
//! | encodings | `base64Encode base64Decode base64URLEncode base64URLDecode sha256Hex md5sum hmacSHA256Hex` |
//! | parsing | `parseBool parseInt parseUint parseFloat parseJSON parseYAML` |
//! | output formats | `toJSON toJSONPretty toUnescapedJSON toUnescapedJSONPretty toYAML toTOML` |
//! | collections | `in contains containsAll containsAny containsNone containsNotAll explode explodeMap mergeMap mergeMapWithOverride loop` |
//! | Consul data | `byKey byTag byPort byMeta` |
//! | math | `add subtract multiply divide modulo minimum maximum` |
//! | state | `scratch` (`Key Get Set SetX MapSet MapSetX MapValues`) |
//! | outside | `plugin writeToFile` |
//! | host | `sockaddr` (go-sockaddr's template language over this host's interfaces) |
//! | debugging | `spew_dump spew_sdump spew_printf spew_sprintf` |
//!
//! Limits (Go has none; each is far above what a template needs): nesting
//! of parsed and encoded values [`MAX_DEPTH`], `loop` length
//! [`collections::MAX_LOOP`], `indent` output [`text::MAX_INDENT_OUTPUT`],
//! regular expression size [`text::MAX_REGEX_LEN`], plugin output
//! [`effects::MAX_PLUGIN_OUTPUT`] and time (`Env::plugin_timeout`).

use gotemplate::Funcs;

use crate::Env;

pub mod codec;
pub mod collections;
pub mod effects;
mod env;
pub mod group;
pub mod json;
pub mod math;
pub mod parse;
mod scratch;
pub mod sockaddr;
pub mod spew;
pub mod text;
pub mod timefmt;
pub mod toml;
pub mod yaml;

/// Deepest nesting of maps and lists that the parsers build and the
/// encoders write (Go's JSON decoder allows 10,000; recursion that deep
/// would need a large stack here).
pub const MAX_DEPTH: usize = 500;

/// Adds the helpers to `funcs`.
pub fn install(funcs: &mut Funcs, env: &Env) {
    env::install(funcs, env);
    text::install(funcs);
    codec::install(funcs);
    parse::install(funcs);
    json::install(funcs);
    yaml::install(funcs);
    toml::install(funcs);
    collections::install(funcs);
    group::install(funcs);
    math::install(funcs);
    scratch::install(funcs);
    spew::install(funcs);
    effects::install(funcs, env);
    sockaddr::install(funcs, std::sync::Arc::new(sockaddr::System));
}
