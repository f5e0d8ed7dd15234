//! `b64enc`, `b64dec`, `b32enc`, `b32dec`: Go's standard encodings with
//! padding. A bad input decodes to Go's error text (Sprig returns
//! `err.Error()` as the result), at Go's byte offset.

use base64::Engine as _;
use gotemplate::Value;

use super::conv::arg_str;
use super::Reg;

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn decode_map(alphabet: &[u8]) -> [u8; 256] {
    let mut m = [0xFF; 256];
    for (i, &c) in alphabet.iter().enumerate() {
        m[usize::from(c)] = i as u8;
    }
    m
}

/// Go's `base64.StdEncoding.DecodeString` (newlines skipped, strict padding).
pub(crate) fn b64_decode(s: &str) -> Result<Vec<u8>, String> {
    let map = decode_map(B64);
    let src = s.as_bytes();
    let corrupt = |at: usize| format!("illegal base64 data at input byte {at}");
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0;
    while si < src.len() {
        let mut dbuf = [0u8; 4];
        let mut dlen = 4;
        let mut j = 0;
        let mut err = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                // Padding is required.
                return Err(corrupt(si - j));
            }
            let c = src[si];
            si += 1;
            let v = map[usize::from(c)];
            if v != 0xFF {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(corrupt(si - 1));
            }
            match j {
                0 | 1 => return Err(corrupt(si - 1)),
                2 => {
                    while si < src.len() && matches!(src[si], b'\n' | b'\r') {
                        si += 1;
                    }
                    if si == src.len() {
                        return Err(corrupt(src.len()));
                    }
                    if src[si] != b'=' {
                        return Err(corrupt(si - 1));
                    }
                    si += 1;
                }
                _ => {}
            }
            while si < src.len() && matches!(src[si], b'\n' | b'\r') {
                si += 1;
            }
            if si < src.len() {
                err = Some(corrupt(si));
            }
            dlen = j;
            break;
        }
        let val = u32::from(dbuf[0]) << 18
            | u32::from(dbuf[1]) << 12
            | u32::from(dbuf[2]) << 6
            | u32::from(dbuf[3]);
        let bytes = [(val >> 16) as u8, (val >> 8) as u8, val as u8];
        out.extend_from_slice(&bytes[..dlen - 1]);
        if let Some(e) = err {
            return Err(e);
        }
    }
    Ok(out)
}

/// Go's `base32.StdEncoding.EncodeToString`.
fn b32_encode(src: &[u8]) -> String {
    let mut out = String::with_capacity(src.len().div_ceil(5) * 8);
    for chunk in src.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let bits = buf.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b));
        let chars = match chunk.len() {
            1 => 2,
            2 => 4,
            3 => 5,
            4 => 7,
            _ => 8,
        };
        for i in 0..8 {
            if i < chars {
                out.push(char::from(B32[((bits >> (35 - 5 * i)) & 31) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Go's `base32.StdEncoding.DecodeString` (newlines removed first).
pub(crate) fn b32_decode(s: &str) -> Result<Vec<u8>, String> {
    let map = decode_map(B32);
    let src: Vec<u8> = s.bytes().filter(|&c| c != b'\n' && c != b'\r').collect();
    let olen = src.len();
    let corrupt = |at: usize| format!("illegal base32 data at input byte {at}");
    let mut out = Vec::new();
    let mut rest: &[u8] = &src;
    let mut end = false;
    while !rest.is_empty() && !end {
        let mut dbuf = [0u8; 8];
        let mut dlen = 8;
        let mut j = 0;
        while j < 8 {
            let Some((&c, tail)) = rest.split_first() else {
                return Err(corrupt(olen - rest.len() - j));
            };
            rest = tail;
            if c == b'=' && j >= 2 && rest.len() < 8 {
                if rest.len() + j < 7 {
                    return Err(corrupt(olen));
                }
                for k in 0..7 - j {
                    if rest.len() > k && rest[k] != b'=' {
                        return Err(corrupt(olen - rest.len() + k - 1));
                    }
                }
                dlen = j;
                end = true;
                if matches!(dlen, 1 | 3 | 6) {
                    return Err(corrupt(olen - rest.len() - 1));
                }
                break;
            }
            let v = map[usize::from(c)];
            if v == 0xFF {
                return Err(corrupt(olen - rest.len() - 1));
            }
            dbuf[j] = v;
            j += 1;
        }
        let d = dbuf;
        let bytes = [
            d[0] << 3 | d[1] >> 2,
            d[1] << 6 | d[2] << 1 | d[3] >> 4,
            d[3] << 4 | d[4] >> 1,
            d[4] << 7 | d[5] << 2 | d[6] >> 3,
            d[6] << 5 | d[7],
        ];
        let n = match dlen {
            8 => 5,
            7 => 4,
            5 => 3,
            4 => 2,
            2 => 1,
            _ => 0,
        };
        out.extend_from_slice(&bytes[..n]);
    }
    Ok(out)
}

/// Bytes as a template string (invalid UTF-8 becomes U+FFFD).
pub(crate) fn bytes_to_string(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

pub(super) fn install(r: &mut Reg<'_>) {
    r.fixed("b64enc", 1, |a| {
        Ok(Value::from(
            base64::engine::general_purpose::STANDARD.encode(arg_str(&a[0])?),
        ))
    });
    r.fixed("b64dec", 1, |a| {
        Ok(Value::from(match b64_decode(arg_str(&a[0])?) {
            Ok(b) => bytes_to_string(b),
            Err(e) => e,
        }))
    });
    r.fixed("b32enc", 1, |a| {
        Ok(Value::from(b32_encode(arg_str(&a[0])?.as_bytes())))
    });
    r.fixed("b32dec", 1, |a| {
        Ok(Value::from(match b32_decode(arg_str(&a[0])?) {
            Ok(b) => bytes_to_string(b),
            Err(e) => e,
        }))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_encodings() {
        assert_eq!(b32_encode(b"hello"), "NBSWY3DP");
        assert_eq!(b32_encode(b"hi"), "NBUQ====");
        assert_eq!(b32_decode("NBUQ====").unwrap(), b"hi");
        assert_eq!(b32_decode("NBSWY3DP").unwrap(), b"hello");
        assert_eq!(b64_decode("aGk=").unwrap(), b"hi");
        assert_eq!(b64_decode("aG\nk=").unwrap(), b"hi");
        assert_eq!(
            b64_decode("a").unwrap_err(),
            "illegal base64 data at input byte 0"
        );
        assert_eq!(
            b64_decode("aGk").unwrap_err(),
            "illegal base64 data at input byte 0"
        );
        assert_eq!(
            b64_decode("!!").unwrap_err(),
            "illegal base64 data at input byte 0"
        );
    }
}
