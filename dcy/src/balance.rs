//! Weighted round-robin order, computed once per change of the healthy set.
//!
//! The order is nginx's smooth weighted round-robin: with weights 5, 1, 1 it
//! is `a a b a c a a`, spreading the heavy instance out instead of sending it
//! five requests in a row. Weights are reduced by their greatest common
//! divisor and scaled down so the order stays short (at most [`MAX_ORDER`]).

/// Longest order kept; larger weight sums are scaled down proportionally.
pub const MAX_ORDER: u64 = 4096;

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// The round-robin order for these weights: indexes, each appearing as
/// often as its weight. Zero weights never appear.
pub fn schedule(weights: &[u32]) -> Vec<u32> {
    let mut w: Vec<u64> = weights.iter().map(|w| u64::from(*w)).collect();
    let g = w.iter().copied().filter(|x| *x > 0).fold(0, gcd);
    if g == 0 {
        return Vec::new();
    }
    for x in &mut w {
        *x /= g;
    }
    let sum: u64 = w.iter().sum();
    if sum > MAX_ORDER {
        for x in &mut w {
            if *x > 0 {
                *x = (*x * MAX_ORDER / sum).max(1);
            }
        }
    }
    let total: i64 = w.iter().map(|x| *x as i64).sum();
    let mut current = vec![0i64; w.len()];
    let mut order = Vec::with_capacity(total as usize);
    for _ in 0..total {
        let mut best = 0;
        for (i, wi) in w.iter().enumerate() {
            current[i] += *wi as i64;
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        order.push(best as u32);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_weights_alternate() {
        assert_eq!(schedule(&[1, 1, 1]), [0, 1, 2]);
        assert_eq!(schedule(&[3, 3]), [0, 1]);
    }

    #[test]
    fn heavy_instances_are_spread_out() {
        assert_eq!(schedule(&[5, 1, 1]), [0, 0, 1, 0, 2, 0, 0]);
        assert_eq!(schedule(&[2, 0, 1]), [0, 2, 0]);
        assert!(schedule(&[0, 0]).is_empty());
        assert!(schedule(&[]).is_empty());
    }

    #[test]
    fn large_weights_stay_bounded_and_proportional() {
        let order = schedule(&[65535, 1, 30000]);
        assert!(order.len() as u64 <= MAX_ORDER + 3);
        let count = |i| order.iter().filter(|x| **x == i).count();
        assert!(count(1) >= 1);
        assert!(count(0) > 2 * count(2) - 5);
    }
}
