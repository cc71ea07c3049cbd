//! Statistics over replicates (seeds): mean, spread and the 95% confidence
//! interval of the mean from Student's t distribution with n - 1 degrees
//! of freedom, `mean ± t(0.975, n-1) * sd / sqrt(n)` with the sample
//! standard deviation. With one replicate there is no interval.

/// Mean, range and 95% confidence interval of some values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// Their mean (NaN when there are none).
    pub mean: f64,
    /// Half the width of the 95% interval (NaN when n < 2).
    pub half: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom.
///
/// Tabulated to 30 degrees of freedom (rounded to three decimals, as in
/// every statistics table); beyond, the normal quantile with the
/// first-order correction `1.96 + 2.4 / df`, within 0.002 of the exact value.
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        _ => 1.96 + 2.4 / df as f64,
    }
}

/// Summarise `xs` (NaN values are left out).
///
/// ```
/// use parana::report::stats::summarize;
/// let s = summarize(&[1.0, 2.0, 3.0]);
/// assert_eq!(s.mean, 2.0);
/// // sd 1, t(0.975, 2) = 4.303: 2 ± 4.303 / sqrt(3).
/// assert!((s.half - 4.303 / 3f64.sqrt()).abs() < 1e-12);
/// ```
pub fn summarize(xs: &[f64]) -> Summary {
    let v: Vec<f64> = xs.iter().copied().filter(|x| !x.is_nan()).collect();
    let n = v.len();
    if n == 0 {
        return Summary {
            n,
            mean: f64::NAN,
            half: f64::NAN,
            min: f64::NAN,
            max: f64::NAN,
        };
    }
    let mean = v.iter().sum::<f64>() / n as f64;
    let half = if n < 2 {
        f64::NAN
    } else {
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        t975(n - 1) * (var / n as f64).sqrt()
    };
    Summary {
        n,
        mean,
        half,
        min: v.iter().copied().fold(f64::INFINITY, f64::min),
        max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    }
}

/// A fraction in points with one decimal, without the "-0.0" that a tiny
/// negative rounds to.
fn points1(x: f64) -> String {
    let r = (x * 1000.0).round() / 10.0;
    format!("{:.1}", if r == 0.0 { 0.0 } else { r })
}

impl Summary {
    /// The interval's ends (both the mean when there is no interval).
    pub fn ci(&self) -> (f64, f64) {
        if self.half.is_nan() {
            (self.mean, self.mean)
        } else {
            (self.mean - self.half, self.mean + self.half)
        }
    }

    /// Whether the interval lies wholly above zero.
    pub fn above_zero(&self) -> bool {
        !self.half.is_nan() && self.mean - self.half > 0.0
    }

    /// Four decimals with the half-width: `0.6351 ± 0.0123` (`0.6351` alone
    /// with one value, `-` with none).
    pub fn f4(&self) -> String {
        match (self.mean.is_nan(), self.half.is_nan()) {
            (true, _) => "-".into(),
            (false, true) => format!("{:.4}", self.mean),
            (false, false) => format!("{:.4} ± {:.4}", self.mean, self.half),
        }
    }

    /// In points (x100) with one decimal and the interval: `16.6 (95% CI
    /// 12.1 to 21.0)`, or `16.6` with one value.
    pub fn points(&self) -> String {
        if self.half.is_nan() {
            points1(self.mean)
        } else {
            let (lo, hi) = self.ci();
            format!(
                "{} (95% CI {} to {})",
                points1(self.mean),
                points1(lo),
                points1(hi)
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_matches_a_hand_computed_case() {
        // Values 0.10, 0.20, 0.30, 0.40, 0.50: mean 0.3, sd 0.1581.
        let s = summarize(&[0.1, 0.2, 0.3, 0.4, 0.5]);
        assert!((s.mean - 0.3).abs() < 1e-12);
        let sd = (0.025f64).sqrt();
        assert!((s.half - 2.776 * sd / 5f64.sqrt()).abs() < 1e-12);
        assert_eq!((s.min, s.max), (0.1, 0.5));
        assert!(s.above_zero());
        let one = summarize(&[0.2, f64::NAN]);
        assert_eq!(one.n, 1);
        assert!(one.half.is_nan());
        assert_eq!(one.f4(), "0.2000");
        assert!(!one.above_zero());
        assert_eq!(summarize(&[]).f4(), "-");
        // A spread that straddles zero is not above it.
        assert!(!summarize(&[-0.1, 0.2, 0.05]).above_zero());
        // No "-0.0" from a rounding error's sign.
        assert_eq!(
            summarize(&[-1e-9, 1e-9, -1e-9]).points(),
            "0.0 (95% CI 0.0 to 0.0)"
        );
        assert_eq!(summarize(&[-0.0004]).points(), "0.0");
        assert_eq!(summarize(&[-0.0006]).points(), "-0.1");
    }

    #[test]
    fn t_quantiles_fall_towards_the_normal_one() {
        assert_eq!(t975(2), 4.303);
        assert!((t975(60) - 2.000).abs() < 0.002);
        assert!((t975(120) - 1.980).abs() < 0.002);
        assert!(t975(0).is_nan());
    }
}
