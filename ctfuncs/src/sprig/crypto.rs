//! Hashes (`sha1sum`, `sha256sum`, `adler32sum`), password hashing
//! (`bcrypt`, `htpasswd`, `derivePassword`), `encryptAES`/`decryptAES`
//! (AES-256-CBC, as Sprig does it), `randBytes` and `uuidv4`.
//!
//! The key and certificate generators (`genPrivateKey`, `genCA`,
//! `genCAWithKey`, `genSelfSignedCert`, `genSelfSignedCertWithKey`,
//! `genSignedCert`, `genSignedCertWithKey`, `buildCustomCert`) are
//! registered, so a template that names them parses, but each call fails
//! with an error that says why and what to do: a template that mints a new
//! key on every render rewrites its file (and restarts its service) on
//! every change of any dependency, and Sprig's RSA/DSA generation is not
//! carried over here.

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine as _;
use gotemplate::{FuncError, Value};
use hmac::{Hmac, Mac};
use sha1::Digest as _;

use super::conv::{arg_int, arg_str};
use super::encoding::{b64_decode, bytes_to_string};
use super::{check_len, Reg};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `hash/adler32`.
fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    b << 16 | a
}

/// Sprig's `bcrypt`: cost 10, the `$2a$` form Go writes.
fn bcrypt_hash(input: &str) -> String {
    match bcrypt::hash_with_result(input.as_bytes(), 10) {
        Ok(h) => h.format_for_version(bcrypt::Version::TwoA),
        Err(e) => format!("failed to encrypt string with bcrypt: {e}"),
    }
}

const SEED: &str = "com.lyndir.masterpassword";

fn templates(kind: &str) -> Option<&'static [&'static str]> {
    Some(match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        _ => return None,
    })
}

fn template_chars(c: u8) -> &'static [u8] {
    match c {
        b'V' => b"AEIOU",
        b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
        b'v' => b"aeiou",
        b'c' => b"bcdfghjklmnpqrstvwxyz",
        b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
        b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
        b'n' => b"0123456789",
        b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
        _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
    }
}

/// Sprig's `derivePassword` (the Master Password algorithm: scrypt, then
/// HMAC-SHA256 over the site).
fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    let Some(temps) = templates(kind) else {
        return format!("cannot find password template {kind}");
    };
    let mut salt = SEED.as_bytes().to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let derived = scrypt::Params::new(15, 8, 2, 64)
        .map_err(|e| e.to_string())
        .and_then(|p| {
            scrypt::scrypt(password.as_bytes(), &salt, &p, &mut key).map_err(|e| e.to_string())
        });
    if let Err(e) = derived {
        return format!("failed to derive password: {e}");
    }
    let mut msg = SEED.as_bytes().to_vec();
    msg.extend_from_slice(&(site.len() as u32).to_be_bytes());
    msg.extend_from_slice(site.as_bytes());
    msg.extend_from_slice(&counter.to_be_bytes());
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(&key) else {
        return "failed to derive password: bad key length".into();
    };
    mac.update(&msg);
    let seed = mac.finalize().into_bytes();
    let temp = temps[usize::from(seed[0]) % temps.len()].as_bytes();
    temp.iter()
        .enumerate()
        .map(|(i, &c)| {
            let chars = template_chars(c);
            char::from(chars[usize::from(seed[i + 1]) % chars.len()])
        })
        .collect()
}

fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let p = password.as_bytes();
    let n = p.len().min(32);
    key[..n].copy_from_slice(&p[..n]);
    key
}

/// Sprig's `encryptAES`: AES-256-CBC, PKCS#7 padding, a random IV first,
/// base64 of the whole.
fn encrypt_aes(password: &str, plaintext: &str) -> Result<String, FuncError> {
    if plaintext.is_empty() {
        return Ok(String::new());
    }
    check_len(plaintext.len() as u128 * 4 / 3 + 64)?;
    let mut iv = [0u8; 16];
    getrandom::fill(&mut iv).map_err(|e| FuncError::Call(e.to_string()))?;
    let mut enc = cbc::Encryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into());
    // PKCS#7: 1 to 16 bytes, each the count.
    let pad = 16 - plaintext.len() % 16;
    let mut all = iv.to_vec();
    all.extend_from_slice(plaintext.as_bytes());
    all.extend(std::iter::repeat_n(pad as u8, pad));
    for block in all[16..].chunks_mut(16) {
        enc.encrypt_block_mut(block.into());
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(all))
}

/// Sprig's `decryptAES`, with Go's failures for short or ragged input.
fn decrypt_aes(password: &str, crypt64: &str) -> Result<String, FuncError> {
    if crypt64.is_empty() {
        return Ok(String::new());
    }
    let crypt = b64_decode(crypt64).map_err(FuncError::Call)?;
    if crypt.len() < 16 {
        // Go's decode buffer has DecodedLen(len(input)) bytes of capacity.
        return Err(FuncError::Call(format!(
            "runtime error: slice bounds out of range [:16] with capacity {}",
            crypt64.len() / 4 * 3
        )));
    }
    let (iv, body) = crypt.split_at(16);
    if body.len() % 16 != 0 {
        return Err(FuncError::Call(
            "crypto/cipher: input not full blocks".into(),
        ));
    }
    let mut buf = body.to_vec();
    let mut dec = cbc::Decryptor::<aes::Aes256>::new(&aes_key(password).into(), iv.into());
    for block in buf.chunks_mut(16) {
        dec.decrypt_block_mut(block.into());
    }
    let Some(&last) = buf.last() else {
        return Err(FuncError::Call(
            "runtime error: index out of range [-1]".into(),
        ));
    };
    // Sprig trusts the last byte as the padding length, without checking it.
    let keep = buf.len() as i64 - i64::from(last);
    if keep < 0 {
        return Err(FuncError::Call(format!(
            "runtime error: slice bounds out of range [:{keep}]"
        )));
    }
    buf.truncate(keep as usize);
    Ok(bytes_to_string(buf))
}

/// The error of the key and certificate generators (the engine adds
/// "error calling NAME: ").
fn not_generated(_: &[Value]) -> Result<Value, FuncError> {
    Err(FuncError::Call(
        "generating keys and certificates is not supported here: a new key on every render would rewrite the file and restart its service each time; make them once outside the template (openssl, Vault, consul tls) and read them with file or key".into(),
    ))
}

pub(super) fn install(r: &mut Reg<'_>) {
    r.fixed("sha1sum", 1, |a| {
        Ok(Value::from(hex(&sha1::Sha1::digest(
            arg_str(&a[0])?.as_bytes(),
        ))))
    });
    r.fixed("sha256sum", 1, |a| {
        Ok(Value::from(hex(&sha2::Sha256::digest(
            arg_str(&a[0])?.as_bytes(),
        ))))
    });
    r.fixed("adler32sum", 1, |a| {
        Ok(Value::from(adler32(arg_str(&a[0])?.as_bytes()).to_string()))
    });
    r.fixed("bcrypt", 1, |a| {
        Ok(Value::from(bcrypt_hash(arg_str(&a[0])?)))
    });
    r.fixed("htpasswd", 2, |a| {
        let (user, password) = (arg_str(&a[0])?, arg_str(&a[1])?);
        if user.contains(':') {
            return Ok(Value::from(format!("invalid username: {user}")));
        }
        Ok(Value::from(format!("{user}:{}", bcrypt_hash(password))))
    });
    r.fixed("derivePassword", 5, |a| {
        let counter = arg_int(&a[0])?;
        let counter = u32::try_from(counter)
            .map_err(|_| FuncError::Arg(format!("{counter} overflows uint32")))?;
        Ok(Value::from(derive_password(
            counter,
            arg_str(&a[1])?,
            arg_str(&a[2])?,
            arg_str(&a[3])?,
            arg_str(&a[4])?,
        )))
    });
    r.fixed("encryptAES", 2, |a| {
        Ok(Value::from(encrypt_aes(arg_str(&a[0])?, arg_str(&a[1])?)?))
    });
    r.fixed("decryptAES", 2, |a| {
        Ok(Value::from(decrypt_aes(arg_str(&a[0])?, arg_str(&a[1])?)?))
    });
    r.fixed("randBytes", 1, |a| {
        let n = arg_int(&a[0])?;
        if n < 0 {
            return Err(FuncError::Call(
                "runtime error: makeslice: len out of range".into(),
            ));
        }
        check_len(n as u128 * 4 / 3)?;
        let mut buf = vec![0u8; n as usize];
        getrandom::fill(&mut buf).map_err(|e| FuncError::Call(e.to_string()))?;
        Ok(Value::from(
            base64::engine::general_purpose::STANDARD.encode(buf),
        ))
    });
    r.fixed("uuidv4", 0, |_| {
        Ok(Value::from(uuid::Uuid::new_v4().hyphenated().to_string()))
    });
    r.fixed("genPrivateKey", 1, not_generated);
    r.fixed("genCA", 2, not_generated);
    r.fixed("genCAWithKey", 3, not_generated);
    r.fixed("genSelfSignedCert", 4, not_generated);
    r.fixed("genSelfSignedCertWithKey", 5, not_generated);
    r.fixed("genSignedCert", 5, not_generated);
    r.fixed("genSignedCertWithKey", 6, not_generated);
    r.fixed("buildCustomCert", 2, not_generated);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aes_round_trip_and_go_failures() {
        let c = encrypt_aes("secretkey", "plaintext").unwrap();
        assert_eq!(decrypt_aes("secretkey", &c).unwrap(), "plaintext");
        assert!(decrypt_aes("k", "aGk=").is_err());
        assert_eq!(adler32(b"Wikipedia"), 300_286_872);
        assert!(bcrypt::verify("pw", &bcrypt_hash("pw")).unwrap());
    }
}
