//! Encodings and digests: `base64Encode base64Decode base64URLEncode
//! base64URLDecode sha256Hex md5sum hmacSHA256Hex`.
//!
//! Decoding follows Go's `encoding/base64` (padding required, `\r` and `\n`
//! skipped, trailing bits not checked) so that bad input fails at the same
//! byte with Go's message.

use base64::Engine;
use gotemplate::{FuncError, Funcs, Value};
use hmac::{Hmac, Mac};
use md5::Md5;
use sha2::{Digest, Sha256};

use crate::args;

const STD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pub(super) fn install(funcs: &mut Funcs) {
    funcs.add_fixed("base64Encode", 1, |a| {
        let s = args::string(&a[0])?;
        Ok(Value::from(
            base64::engine::general_purpose::STANDARD.encode(s),
        ))
    });
    funcs.add_fixed("base64URLEncode", 1, |a| {
        let s = args::string(&a[0])?;
        Ok(Value::from(
            base64::engine::general_purpose::URL_SAFE.encode(s),
        ))
    });
    funcs.add_fixed("base64Decode", 1, |a| {
        decode(args::string(&a[0])?, STD)
            .map(|b| Value::from(String::from_utf8_lossy(&b).into_owned()))
            .map_err(|at| {
                FuncError::Call(format!(
                    "base64Decode: illegal base64 data at input byte {at}"
                ))
            })
    });
    funcs.add_fixed("base64URLDecode", 1, |a| {
        decode(args::string(&a[0])?, URL)
            .map(|b| Value::from(String::from_utf8_lossy(&b).into_owned()))
            .map_err(|at| {
                FuncError::Call(format!(
                    "base64URLDecode: illegal base64 data at input byte {at}"
                ))
            })
    });
    funcs.add_fixed("sha256Hex", 1, |a| {
        Ok(Value::from(hex(&Sha256::digest(
            args::string(&a[0])?.as_bytes(),
        ))))
    });
    funcs.add_fixed("md5sum", 1, |a| {
        Ok(Value::from(hex(&Md5::digest(
            args::string(&a[0])?.as_bytes(),
        ))))
    });
    // hmacSHA256Hex message key: `"key" | hmacSHA256Hex "message"`.
    funcs.add_fixed("hmacSHA256Hex", 2, |a| {
        let (msg, key) = (args::string(&a[0])?, args::string(&a[1])?);
        let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes())
            .map_err(|e| FuncError::Call(format!("hmacSHA256Hex: {e}")))?;
        mac.update(msg.as_bytes());
        Ok(Value::from(hex(&mac.finalize().into_bytes())))
    });
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Go's padded base64 decoding; the error is the offset Go reports.
pub fn decode(src: &str, alphabet: &[u8; 64]) -> Result<Vec<u8>, usize> {
    let mut map = [0xffu8; 256];
    for (i, &c) in alphabet.iter().enumerate() {
        map[usize::from(c)] = i as u8;
    }
    let src = src.as_bytes();
    let mut out = Vec::with_capacity(src.len() / 4 * 3);
    let mut si = 0usize;
    let skip_newlines = |si: &mut usize| {
        while *si < src.len() && (src[*si] == b'\n' || src[*si] == b'\r') {
            *si += 1;
        }
    };
    while si < src.len() {
        let mut dbuf = [0u8; 4];
        let mut dlen = 4;
        let mut j = 0usize;
        let mut trailing: Option<usize> = None;
        while j < 4 {
            if si == src.len() {
                if j == 0 {
                    return Ok(out);
                }
                // Padding is required: a short quantum is an error.
                return Err(si - j);
            }
            let c = src[si];
            si += 1;
            let v = map[usize::from(c)];
            if v != 0xff {
                dbuf[j] = v;
                j += 1;
                continue;
            }
            if c == b'\n' || c == b'\r' {
                continue;
            }
            if c != b'=' {
                return Err(si - 1);
            }
            match j {
                0 | 1 => return Err(si - 1),
                2 => {
                    skip_newlines(&mut si);
                    if si == src.len() {
                        return Err(src.len());
                    }
                    if src[si] != b'=' {
                        return Err(si - 1);
                    }
                    si += 1;
                }
                _ => {}
            }
            skip_newlines(&mut si);
            if si < src.len() {
                trailing = Some(si);
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
        if let Some(at) = trailing {
            return Err(at);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_as_go_does() {
        assert_eq!(decode("aGVsbG8=", STD).unwrap(), b"hello");
        assert_eq!(decode("aGVs\nbG8=", STD).unwrap(), b"hello");
        assert_eq!(decode("dGVzdGluZzEyMw==", URL).unwrap(), b"testing123");
        assert_eq!(decode("", STD).unwrap(), b"");
        // Go: "illegal base64 data at input byte N".
        assert_eq!(decode("aGVsxxbG8=", STD), Err(9));
        assert_eq!(decode("aGVsbG8", STD), Err(4));
        assert_eq!(decode("a", STD), Err(0));
        assert_eq!(decode("aGVsbG8=x", STD), Err(8));
        assert_eq!(decode("aG!s", STD), Err(2));
        assert_eq!(decode("a-_b", STD), Err(1));
    }
}
