//! `?pretty`: JSON re-indented as Consul writes it (4 spaces, one member or
//! element per line, keys in the order they were written), in one pass over
//! the bytes, without parsing into a tree.

use axum::body::Bytes;

/// Nesting a body may have to be re-indented (deeper bodies are sent compact).
const MAX_DEPTH: usize = 512;

/// `body` indented with 4 spaces, as serde_json's pretty printer writes it;
/// `None` if it is not well-formed JSON (then the caller sends it as it is).
pub(crate) fn reindent(body: &[u8]) -> Option<Bytes> {
    let mut out = Vec::with_capacity(body.len() * 2 + 16);
    let mut depth = 0usize;
    let mut i = 0;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.resize(out.len() + 4 * depth, b' ');
    };
    while i < body.len() {
        let b = body[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => {}
            b'"' => {
                let start = i;
                i += 1;
                while i < body.len() && body[i] != b'"' {
                    if body[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= body.len() {
                    return None;
                }
                out.extend_from_slice(&body[start..=i]);
            }
            b'{' | b'[' => {
                let close = if b == b'{' { b'}' } else { b']' };
                // An empty object or array stays on one line.
                let mut j = i + 1;
                while j < body.len() && body[j].is_ascii_whitespace() {
                    j += 1;
                }
                if body.get(j) == Some(&close) {
                    out.push(b);
                    out.push(close);
                    i = j + 1;
                    continue;
                }
                depth += 1;
                if depth > MAX_DEPTH {
                    return None;
                }
                out.push(b);
                newline(&mut out, depth);
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                newline(&mut out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b',');
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            _ => out.push(b),
        }
        i += 1;
    }
    if depth != 0 {
        return None;
    }
    if out.last() != Some(&b'\n') {
        out.push(b'\n');
    }
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    fn serde_pretty(v: &serde_json::Value) -> String {
        let mut buf = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
        v.serialize(&mut ser).unwrap();
        buf.push(b'\n');
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn matches_serde_json_pretty_printer() {
        let v = serde_json::json!([
            {"Node": {"Node": "n1", "Meta": {}, "TaggedAddresses": {"lan": "127.0.0.1"}},
             "Service": {"Tags": [], "Port": 8000, "Weights": {"Passing": 1, "Warning": 1}},
             "Checks": [{"Output": "a \"quoted\" [x], {y}: z\\", "Status": "passing"}]},
            [], {}, [[]], null, true, -1.5e3, "ü"
        ]);
        let compact = serde_json::to_vec(&v).unwrap();
        let got = reindent(&compact).unwrap();
        assert_eq!(std::str::from_utf8(&got).unwrap(), serde_pretty(&v));
    }

    #[test]
    fn keeps_the_order_keys_were_written_in() {
        let got = reindent(br#"{"b":1,"a":2}"#).unwrap();
        assert_eq!(&got[..], b"{\n    \"b\": 1,\n    \"a\": 2\n}\n");
    }

    #[test]
    fn refuses_what_is_not_json_and_bounds_depth() {
        assert!(reindent(b"[1,2").is_none());
        assert!(reindent(b"\"open").is_none());
        assert!(reindent(b"]").is_none());
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert!(reindent(deep.as_bytes()).is_none());
    }
}
