//! Random strings (`randAlphaNum`, `randAlpha`, `randAscii`,
//! `randNumeric`), `randInt` and `shuffle`, from the operating system's
//! random source. A count past [`MAX_STRING`](super::MAX_STRING) fails; a
//! negative count gives "" (Sprig ignores goutils' error).

use gotemplate::{FuncError, Value};

use super::conv::{arg_int, arg_str};
use super::{check_len, Reg};

const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DIGITS: &[u8] = b"0123456789";

/// Uniform random numbers below `n` (n > 0), by rejection.
struct Rng {
    buf: Vec<u8>,
    at: usize,
}

impl Rng {
    fn new() -> Rng {
        Rng {
            buf: Vec::new(),
            at: 0,
        }
    }

    fn u64(&mut self) -> Result<u64, FuncError> {
        if self.at + 8 > self.buf.len() {
            self.buf = vec![0u8; 4096];
            getrandom::fill(&mut self.buf).map_err(|e| FuncError::Call(e.to_string()))?;
            self.at = 0;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.buf[self.at..self.at + 8]);
        self.at += 8;
        Ok(u64::from_le_bytes(b))
    }

    fn below(&mut self, n: u64) -> Result<u64, FuncError> {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let v = self.u64()?;
            if v < zone {
                return Ok(v % n);
            }
        }
    }
}

fn random_string(count: i64, alphabet: &[u8]) -> Result<Value, FuncError> {
    if count <= 0 {
        return Ok(Value::str(""));
    }
    check_len(count as u128)?;
    let mut rng = Rng::new();
    let mut out = String::with_capacity(count as usize);
    for _ in 0..count {
        out.push(char::from(
            alphabet[rng.below(alphabet.len() as u64)? as usize],
        ));
    }
    Ok(Value::from(out))
}

pub(super) fn install(r: &mut Reg<'_>) {
    r.fixed("randAlphaNum", 1, |a| random_string(arg_int(&a[0])?, ALNUM));
    r.fixed("randAlpha", 1, |a| random_string(arg_int(&a[0])?, ALPHA));
    r.fixed("randNumeric", 1, |a| random_string(arg_int(&a[0])?, DIGITS));
    r.fixed("randAscii", 1, |a| {
        let printable: Vec<u8> = (32u8..127).collect();
        random_string(arg_int(&a[0])?, &printable)
    });
    r.fixed("randInt", 2, |a| {
        let (min, max) = (arg_int(&a[0])?, arg_int(&a[1])?);
        let span = max.wrapping_sub(min);
        if span <= 0 {
            return Err(FuncError::Call("invalid argument to Intn".into()));
        }
        Ok(Value::Int(
            min.wrapping_add(Rng::new().below(span as u64)? as i64),
        ))
    });
    r.fixed("shuffle", 1, |a| {
        let mut chars: Vec<char> = arg_str(&a[0])?.chars().collect();
        let mut rng = Rng::new();
        for i in (1..chars.len()).rev() {
            let j = rng.below(i as u64 + 1)? as usize;
            chars.swap(i, j);
        }
        Ok(Value::from(chars.into_iter().collect::<String>()))
    });
}
