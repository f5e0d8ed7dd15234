//! `env` and `expandenv`: the process's environment, as Sprig's
//! `os.Getenv` and `os.ExpandEnv` read it.

use gotemplate::{FuncError, Value};

use super::conv::arg_str;
use super::{check_len, Reg};

fn getenv(name: &str) -> String {
    if name.is_empty() || name.contains(['=', '\0']) {
        return String::new();
    }
    std::env::var_os(name)
        .map(|v| v.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn special(c: u8) -> bool {
    matches!(
        c,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

/// Go's `getShellName`: the name after a `$` and how many bytes it takes.
fn shell_name(s: &[u8]) -> (&[u8], usize) {
    if s[0] == b'{' {
        if s.len() > 2 && special(s[1]) && s[2] == b'}' {
            return (&s[1..2], 3);
        }
        for i in 1..s.len() {
            if s[i] == b'}' {
                if i == 1 {
                    return (&[], 2);
                }
                return (&s[1..i], i + 1);
            }
        }
        return (&[], 1);
    }
    if special(s[0]) {
        return (&s[..1], 1);
    }
    let n = s
        .iter()
        .take_while(|&&c| c == b'_' || c.is_ascii_alphanumeric())
        .count();
    (&s[..n], n)
}

/// Go's `os.Expand(s, os.Getenv)`, bounded.
fn expand(s: &str) -> Result<String, FuncError> {
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    let mut j = 0;
    let mut any = false;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            any = true;
            out.extend_from_slice(&b[i..j]);
            let (name, w) = shell_name(&b[j + 1..]);
            if name.is_empty() && w > 0 {
                // Bad syntax: eaten.
            } else if name.is_empty() {
                out.push(b'$');
            } else {
                out.extend_from_slice(getenv(&String::from_utf8_lossy(name)).as_bytes());
                check_len(out.len() as u128)?;
            }
            j += w;
            i = j + 1;
        }
        j += 1;
    }
    if !any {
        return Ok(s.to_string());
    }
    out.extend_from_slice(&b[i.min(b.len())..]);
    check_len(out.len() as u128)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

pub(super) fn install(r: &mut Reg<'_>) {
    r.fixed("env", 1, |a| Ok(Value::from(getenv(arg_str(&a[0])?))));
    r.fixed("expandenv", 1, |a| {
        Ok(Value::from(expand(arg_str(&a[0])?)?))
    });
}
