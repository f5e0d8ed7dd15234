//! shopspring/decimal as Sprig's `addf`, `subf`, `mulf`, `divf` and
//! `add1f` use it: each float becomes the decimal of its shortest
//! representation (0.1 is exactly 1/10), the operations are exact except
//! division (rounded half away from zero at 16 decimal places), and the
//! result is the nearest float64.

use std::cmp::Ordering;

use gotemplate::FuncError;
use num_bigint::{BigInt, Sign};
use num_traits::{Signed, Zero};

/// Decimal exponents beyond this are refused (a product of thousands of
/// extreme floats): the bigints involved would grow without bound.
const MAX_EXP: i64 = 20_000;

/// `value × 10^exp`.
#[derive(Clone, Debug)]
pub(crate) struct Dec {
    value: BigInt,
    exp: i64,
}

fn pow10(n: i64) -> BigInt {
    num_traits::pow(BigInt::from(10u8), n as usize)
}

fn too_big() -> FuncError {
    FuncError::Call(format!(
        "decimal exponent beyond ±{MAX_EXP}: too large for exact arithmetic"
    ))
}

impl Dec {
    /// `decimal.NewFromFloat`: the shortest decimal that reads back as `f`.
    pub(crate) fn from_f64(f: f64) -> Result<Dec, FuncError> {
        if !f.is_finite() {
            return Err(FuncError::Call(format!(
                "Cannot create a Decimal from {}",
                gotemplate::fmt::shortest_g(f)
            )));
        }
        // Rust's `{:e}` prints the shortest round-trip digits, as Go does.
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i64 = exp.parse().unwrap_or(0);
        let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
        let digits = format!("{int}{frac}");
        let value: BigInt = digits.parse().unwrap_or_default();
        Ok(Dec {
            value,
            exp: exp - frac.len() as i64,
        })
    }

    fn check(self) -> Result<Dec, FuncError> {
        if self.exp.abs() > MAX_EXP {
            return Err(too_big());
        }
        Ok(self)
    }

    /// Both at the smaller exponent.
    fn rescale_pair(&self, o: &Dec) -> (BigInt, BigInt, i64) {
        match self.exp.cmp(&o.exp) {
            Ordering::Equal => (self.value.clone(), o.value.clone(), self.exp),
            Ordering::Less => (
                self.value.clone(),
                &o.value * pow10(o.exp - self.exp),
                self.exp,
            ),
            Ordering::Greater => (
                &self.value * pow10(self.exp - o.exp),
                o.value.clone(),
                o.exp,
            ),
        }
    }

    pub(crate) fn add(&self, o: &Dec) -> Result<Dec, FuncError> {
        let (a, b, exp) = self.rescale_pair(o);
        Dec { value: a + b, exp }.check()
    }

    pub(crate) fn sub(&self, o: &Dec) -> Result<Dec, FuncError> {
        let (a, b, exp) = self.rescale_pair(o);
        Dec { value: a - b, exp }.check()
    }

    pub(crate) fn mul(&self, o: &Dec) -> Result<Dec, FuncError> {
        Dec {
            value: &self.value * &o.value,
            exp: self.exp + o.exp,
        }
        .check()
    }

    fn cmp(&self, o: &Dec) -> Ordering {
        let (a, b, _) = self.rescale_pair(o);
        a.cmp(&b)
    }

    /// `Div`: `DivRound(o, 16)`.
    pub(crate) fn div(&self, o: &Dec) -> Result<Dec, FuncError> {
        const PRECISION: i64 = 16;
        if o.value.is_zero() {
            return Err(FuncError::Call("decimal division by 0".into()));
        }
        let scale = -PRECISION;
        let e = self.exp - o.exp - scale;
        if e.abs() > MAX_EXP {
            return Err(too_big());
        }
        let (aa, bb, scalerest) = if e < 0 {
            (self.value.clone(), &o.value * pow10(-e), self.exp)
        } else {
            (&self.value * pow10(e), o.value.clone(), scale + o.exp)
        };
        let q = &aa / &bb;
        let r = &aa % &bb;
        let q = Dec {
            value: q,
            exp: scale,
        };
        let r2 = Dec {
            value: r.abs() * 2,
            exp: scalerest + PRECISION,
        };
        let d2_abs = Dec {
            value: o.value.abs(),
            exp: o.exp,
        };
        if r2.cmp(&d2_abs) == Ordering::Less {
            return Ok(q);
        }
        let unit = Dec {
            value: BigInt::from(1),
            exp: -PRECISION,
        };
        let neg = (self.value.sign() == Sign::Minus) != (o.value.sign() == Sign::Minus)
            && !self.value.is_zero();
        if neg {
            q.sub(&unit)
        } else {
            q.add(&unit)
        }
    }

    /// `Float64`: the nearest float64 (ties to even), infinite past the range.
    pub(crate) fn to_f64(&self) -> f64 {
        format!("{}e{}", self.value, self.exp)
            .parse()
            .unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(a: f64, b: f64, f: fn(&Dec, &Dec) -> Result<Dec, FuncError>) -> f64 {
        f(&Dec::from_f64(a).unwrap(), &Dec::from_f64(b).unwrap())
            .unwrap()
            .to_f64()
    }

    #[test]
    fn exact_like_shopspring() {
        assert_eq!(op(0.1, 0.2, Dec::add), 0.3);
        assert_eq!(op(1.0, 3.0, Dec::div), 0.3333333333333333);
        assert_eq!(op(2.0, 3.0, Dec::div), 0.6666666666666667);
        assert_eq!(op(-2.0, 3.0, Dec::div), -0.6666666666666667);
        assert_eq!(op(1.1, 1.1, Dec::mul), 1.21);
        assert_eq!(op(1e308, 10.0, Dec::mul), f64::INFINITY);
        assert!(Dec::from_f64(1.0)
            .unwrap()
            .div(&Dec::from_f64(0.0).unwrap())
            .is_err());
        assert!(Dec::from_f64(f64::NAN).is_err());
    }
}
