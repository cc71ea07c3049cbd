//! Pruning ratios parsed exactly: `0.29` means 29/100, so a matrix of 100
//! weights loses 29 of them, not `floor(100 * 0.28999999)` = 28.

use crate::error::{Error, Result};

/// A ratio in [0, 1) kept as an exact fraction `num / den`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ratio {
    num: u64,
    den: u64,
}

impl Ratio {
    /// No pruning.
    pub const ZERO: Ratio = Ratio { num: 0, den: 1 };

    /// `num / den`; must lie in [0, 1).
    pub fn new(num: u64, den: u64) -> Result<Ratio> {
        if den == 0 || num >= den {
            return Err(Error::input(format!(
                "pruning ratio {num}/{den} is outside [0, 1)"
            )));
        }
        let g = gcd(num, den);
        Ok(Ratio {
            num: num / g,
            den: den / g,
        })
    }

    /// Parse a decimal like `0.81`, `.5`, `0` or a percentage like `81%`.
    ///
    /// ```
    /// use parana::prune::Ratio;
    /// let r = Ratio::parse("0.29").unwrap();
    /// assert_eq!(r.count(100), 29); // exact: not floor(100 * 0.28999…)
    /// assert_eq!(Ratio::parse("29%").unwrap(), r);
    /// assert!(Ratio::parse("1").is_err()); // ratios lie in [0, 1)
    /// ```
    pub fn parse(s: &str) -> Result<Ratio> {
        let bad = || {
            Error::input(format!(
                "bad pruning ratio '{s}' (expected a decimal in [0, 1), e.g. 0.81, or 81%)"
            ))
        };
        let t = s.trim();
        let (t, percent) = match t.strip_suffix('%') {
            Some(p) => (p.trim(), true),
            None => (t, false),
        };
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        if (int.is_empty() && frac.is_empty()) || frac.len() > 12 || int.len() > 3 {
            return Err(bad());
        }
        if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        let den = 10u64.pow(frac.len() as u32) * if percent { 100 } else { 1 };
        let int: u64 = if int.is_empty() {
            0
        } else {
            int.parse().map_err(|_| bad())?
        };
        let frac_v: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        let num = int * 10u64.pow(frac.len() as u32) + frac_v;
        Ratio::new(num, den)
            .map_err(|_| Error::input(format!("pruning ratio '{s}' is outside [0, 1)")))
    }

    /// The ratio as a float.
    pub fn value(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// How many of `n` weights this ratio prunes: `floor(n * ratio)`.
    pub fn count(self, n: usize) -> usize {
        ((n as u128 * self.num as u128) / self.den as u128) as usize
    }

    /// The largest multiple of `1 / den` not above this ratio (sweeps
    /// evaluate ratios as small changes from these anchors).
    pub fn floor_to(self, den: u64) -> Ratio {
        let den = den.max(1);
        let num = (self.num as u128 * den as u128 / self.den as u128) as u64;
        let g = gcd(num, den);
        Ratio {
            num: num / g,
            den: den / g,
        }
    }

    /// `self - other`, or zero if that would be negative (combined
    /// pruning's act ratio is `r - offset`).
    pub fn saturating_sub(self, other: Ratio) -> Ratio {
        let (a, b) = (
            self.num as u128 * other.den as u128,
            other.num as u128 * self.den as u128,
        );
        if a <= b {
            return Ratio::ZERO;
        }
        let den = self.den as u128 * other.den as u128;
        let num = a - b;
        let g = gcd128(num, den);
        Ratio {
            num: (num / g) as u64,
            den: (den / g) as u64,
        }
    }

    /// Ratios as `parana sweep --ratios` takes them: a range
    /// `START:END:STEP` (see [`Ratio::range`]) or a list like `0,0.5,0.81`.
    pub fn list(spec: &str) -> Result<Vec<Ratio>> {
        if spec.contains(':') {
            Ratio::range(spec)
        } else {
            spec.split(',').map(Ratio::parse).collect()
        }
    }

    /// `start, start+step, …` up to and including `end` (e.g. `0:0.99:0.01`).
    pub fn range(spec: &str) -> Result<Vec<Ratio>> {
        let parts: Vec<&str> = spec.split(':').collect();
        let [a, b, c] = parts.as_slice() else {
            return Err(Error::input(format!(
                "bad ratio range '{spec}' (expected START:END:STEP, e.g. 0:0.99:0.01)"
            )));
        };
        let (start, end) = (Ratio::parse(a)?, Ratio::parse(b)?);
        let step = Ratio::parse(c)?;
        if step.num == 0 {
            return Err(Error::input(format!(
                "ratio range '{spec}' has a zero step"
            )));
        }
        // Work on a common denominator so every value is exact.
        let den = lcm(lcm(start.den, end.den), step.den);
        let (s, e, st) = (
            start.num * (den / start.den),
            end.num * (den / end.den),
            step.num * (den / step.den),
        );
        let mut out = Vec::new();
        let mut v = s;
        while v <= e {
            out.push(Ratio::new(v, den)?);
            v += st;
        }
        Ok(out)
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shortest decimal that round-trips for the ratios people type.
        let v = self.value();
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        f.write_str(if s.is_empty() { "0" } else { s })
    }
}

impl std::str::FromStr for Ratio {
    type Err = Error;
    fn from_str(s: &str) -> Result<Ratio> {
        Ratio::parse(s)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a.max(1) } else { gcd(b, a % b) }
}

fn gcd128(a: u128, b: u128) -> u128 {
    if b == 0 { a.max(1) } else { gcd128(b, a % b) }
}

fn lcm(a: u64, b: u64) -> u64 {
    a / gcd(a, b) * b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_and_counts_with_floor() {
        assert_eq!(Ratio::parse("0.29").unwrap().count(100), 29);
        assert_eq!(Ratio::parse("0.29").unwrap().count(1_176_000), 341_040);
        assert_eq!(Ratio::parse("29%").unwrap(), Ratio::parse("0.29").unwrap());
        assert_eq!(Ratio::parse(".5").unwrap().count(7), 3);
        assert_eq!(Ratio::parse("0").unwrap().count(10), 0);
        assert_eq!(Ratio::parse("0.999").unwrap().count(1000), 999);
        for bad in ["1", "1.0", "-0.1", "abc", "", ".", "0.5.1", "nan", "150%"] {
            assert!(Ratio::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Ratio::parse("0.81").unwrap().to_string(), "0.81");
    }

    #[test]
    fn floors_to_tenths_exactly() {
        let p = |s| Ratio::parse(s).unwrap();
        assert_eq!(p("0.29").floor_to(10), p("0.2"));
        assert_eq!(p("0.3").floor_to(10), p("0.3"));
        assert_eq!(p("0.09").floor_to(10), Ratio::ZERO);
        assert_eq!(p("0.99").floor_to(10), p("0.9"));
        assert_eq!(p("0.995").floor_to(100), p("0.99"));
    }

    #[test]
    fn ranges_and_offsets_are_exact() {
        let r = Ratio::range("0:0.99:0.01").unwrap();
        assert_eq!(r.len(), 100);
        assert_eq!(r[29].count(100), 29);
        assert_eq!(r[99], Ratio::parse("0.99").unwrap());
        let c = Ratio::parse("0.85")
            .unwrap()
            .saturating_sub(Ratio::parse("0.07").unwrap());
        assert_eq!(c, Ratio::parse("0.78").unwrap());
        assert_eq!(
            Ratio::parse("0.05")
                .unwrap()
                .saturating_sub(Ratio::parse("0.07").unwrap()),
            Ratio::ZERO
        );
        assert!(Ratio::range("0:0.5:0").is_err());
        assert!(Ratio::range("0:1:0.1").is_err());
    }
}
