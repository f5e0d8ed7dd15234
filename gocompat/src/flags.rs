//! Go's `flag` syntax on top of clap.
//!
//! Go tools accept `-name`, `-name=value` and `-name value` as well as the
//! double-dash forms. clap only knows `--name`, so [`normalize`] rewrites a
//! single-dash argument of two or more characters into its double-dash
//! form before clap sees it. Short flags such as `-h` and `-v`, values
//! (anything after a flag that takes one is left to clap) and everything
//! after a bare `--` are untouched.

/// Rewrites `-long-flag[=value]` into `--long-flag[=value]`.
///
/// `short` lists single-character flags that stay as they are (for example
/// `['h', 'V']`). Arguments that look like negative numbers are kept.
///
/// ```
/// let args = ["devagent", "agent", "-dev", "-http-port=0", "-h", "--", "-x"];
/// let out = gocompat::flags::normalize(args.iter().map(|s| s.to_string()));
/// assert_eq!(out, ["devagent", "agent", "--dev", "--http-port=0", "-h", "--", "-x"]);
/// ```
pub fn normalize<I: IntoIterator<Item = String>>(args: I) -> Vec<String> {
    let mut out = Vec::new();
    let mut passthrough = false;
    for (i, arg) in args.into_iter().enumerate() {
        if i == 0 || passthrough {
            out.push(arg);
            continue;
        }
        if arg == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        let is_go_long = arg.starts_with('-')
            && !arg.starts_with("--")
            && arg.len() > 2
            && arg[1..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic());
        if is_go_long {
            out.push(format!("-{arg}"));
        } else {
            out.push(arg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::normalize;

    fn n(args: &[&str]) -> Vec<String> {
        normalize(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn keeps_short_flags_numbers_and_values() {
        assert_eq!(n(&["x", "-v"]), ["x", "-v"]);
        assert_eq!(n(&["x", "-wait", "-5"]), ["x", "--wait", "-5"]);
        assert_eq!(n(&["x", "--once"]), ["x", "--once"]);
        assert_eq!(
            n(&["x", "run", "--", "sh", "-c", "-exec"]),
            ["x", "run", "--", "sh", "-c", "-exec"]
        );
    }
}
