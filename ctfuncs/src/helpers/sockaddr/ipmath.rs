//! go-sockaddr's `math` on an address: `address` (`+n`/`-n`, wrapping in
//! the family), `network` (`+n` from the network address, `-n` back from
//! its end, wrapping in the network) and `mask` (a prefix applied, keeping
//! the larger network).

use gotemplate::fmt::quote;

use super::ip::{mask_v4, mask_v6, Ip};

impl Ip {
    /// go-sockaddr's `math` on one address: `address` (`+n`/`-n`, wrapping
    /// in the family), `network` (`+n` from the network address, `-n` back
    /// from its end, wrapping in the network), `mask` (apply a prefix,
    /// keeping the larger network).
    pub fn math(&self, op: &str, value: &str) -> Result<Ip, String> {
        let signed = value.trim_start().starts_with(['+', '-']);
        let (qv, qo) = (quote(value), quote(op));
        let op_l = op.to_ascii_lowercase();
        let parse_int = |bits: u32| -> Result<i64, String> {
            let v: i64 = value.parse().map_err(|e: std::num::ParseIntError| {
                format!(
                    "unable to convert {qv} to int for operation {qo}: {}",
                    go_parse_error("ParseInt", value, &e)
                )
            })?;
            let max = if bits >= 64 {
                i64::MAX
            } else {
                (1i64 << (bits - 1)) - 1
            };
            let min = if bits >= 64 {
                i64::MIN
            } else {
                -(1i64 << (bits - 1))
            };
            if v > max || v < min {
                return Err(format!(
                    "unable to convert {qv} to int for operation {qo}: strconv.ParseInt: parsing {qv}: value out of range"
                ));
            }
            Ok(v)
        };
        match op_l.as_str() {
            "address" | "network" if !signed => {
                Err(format!("sign (+/-) is required for operation {qo}"))
            }
            "address" => match *self {
                Ip::V4 { addr, mask, .. } => {
                    let i = parse_int(33)?;
                    Ok(Ip::V4 {
                        addr: addr.wrapping_add(i as u32),
                        mask,
                        port: 0,
                    })
                }
                Ip::V6 { addr, mask, .. } => {
                    let i = parse_int(64)?;
                    Ok(Ip::V6 {
                        addr: addr.wrapping_add(i as i128 as u128),
                        mask,
                        port: 0,
                    })
                }
            },
            "network" => match *self {
                Ip::V4 { addr, mask, .. } => {
                    let i = parse_int(33)?;
                    let wrapped = if i >= 0 { i } else { 1 + i + i64::from(!mask) };
                    Ok(Ip::V4 {
                        addr: (addr & mask).wrapping_add((wrapped as u32) & !mask),
                        mask,
                        port: 0,
                    })
                }
                Ip::V6 { addr, mask, .. } => {
                    let i = parse_int(64)?;
                    let net = addr & mask;
                    let out = if i > 0 {
                        net.wrapping_add((i as u128) & !mask)
                    } else if i == 0 {
                        // go-sockaddr computes `last - (-1 &^ mask)` in
                        // big integers: for 0 that is `network + 2^128`,
                        // and the 17-byte result is cut to its first 16 bytes.
                        (1u128 << 120) | (net >> 8)
                    } else {
                        let w = ((-(i as i128)) - 1) as u128 & !mask;
                        (net | !mask).wrapping_sub(w)
                    };
                    Ok(Ip::V6 {
                        addr: out,
                        mask,
                        port: 0,
                    })
                }
            },
            "mask" => {
                let bits: u64 = value.parse().map_err(|e: std::num::ParseIntError| {
                    format!(
                        "unable to convert {qv} to int for operation {qo}: {}",
                        go_parse_error("ParseUint", value, &e)
                    )
                })?;
                if bits > u64::from(u32::MAX) {
                    return Err(format!("unable to convert {qv} to int for operation {qo}: strconv.ParseUint: parsing {qv}: value out of range"));
                }
                match *self {
                    Ip::V4 { addr, mask, .. } => {
                        if bits > 32 {
                            return Err(format!("parameter for operation {qo} on ipv4 addresses must be between 0 and 32"));
                        }
                        let m = mask_v4(bits as u8);
                        Ok(Ip::V4 {
                            addr: addr & m,
                            mask: m.min(mask),
                            port: 0,
                        })
                    }
                    Ip::V6 { addr, mask, .. } => {
                        if bits > 128 {
                            return Err(format!("parameter for operation {qo} on ipv6 addresses must be between 0 and 64"));
                        }
                        let m = mask_v6(bits as u8);
                        Ok(Ip::V6 {
                            addr: addr & m,
                            mask: m.min(mask),
                            port: 0,
                        })
                    }
                }
            }
            _ => Err(format!("unsupported math operation: {qo}")),
        }
    }
}

/// strconv's error text for a failed parse of `value`.
fn go_parse_error(func: &str, value: &str, e: &std::num::ParseIntError) -> String {
    use std::num::IntErrorKind;
    let why = match e.kind() {
        IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => "value out of range",
        _ => "invalid syntax",
    };
    format!("strconv.{func}: parsing {}: {why}", quote(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn math() {
        let ip = Ip::parse("10.0.1.5/24").unwrap();
        assert_eq!(ip.math("address", "+256").unwrap().string(), "10.0.2.5/24");
        assert_eq!(ip.math("network", "-1").unwrap().string(), "10.0.1.255/24");
        assert_eq!(ip.math("network", "+2").unwrap().string(), "10.0.1.2/24");
        assert_eq!(ip.math("mask", "16").unwrap().string(), "10.0.0.0/16");
        assert_eq!(ip.math("mask", "28").unwrap().string(), "10.0.1.0/24");
        assert!(ip.math("address", "1").unwrap_err().contains("sign"));
        assert!(ip.math("nope", "1").unwrap_err().contains("unsupported"));
    }
}
