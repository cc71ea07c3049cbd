//! The two output heads (cost functions) of the article: linear-quadratic
//! ([`Head::Lq`]) and softmax cross-entropy ([`Head::Sce`]). Both predict the
//! class with the largest raw output.

use super::{lq, sce};
use crate::error::{Error, Result};

/// Which cost function a model is trained with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Head {
    /// Linear-quadratic: quadratic cost on the raw outputs, no softmax.
    Lq,
    /// Softmax cross-entropy.
    Sce,
}

impl Head {
    /// `"lq"` or `"sce"`.
    pub fn name(self) -> &'static str {
        match self {
            Head::Lq => "lq",
            Head::Sce => "sce",
        }
    }

    /// Parse `"lq"` / `"sce"` (also the long names).
    pub fn parse(s: &str) -> Result<Head> {
        match s.to_ascii_lowercase().as_str() {
            "lq" | "linear-quadratic" | "quadratic" => Ok(Head::Lq),
            "sce" | "softmax-cross-entropy" | "softmax" | "ce" => Ok(Head::Sce),
            _ => Err(Error::input(format!(
                "unknown head '{s}' (expected lq or sce)"
            ))),
        }
    }

    /// Mean loss over the batch (without L2), writing `dL/dout` when asked.
    pub fn loss(self, out: &[f32], labels: &[u8], classes: usize, grad: Option<&mut [f32]>) -> f32 {
        match self {
            Head::Lq => lq::loss(out, labels, classes, grad),
            Head::Sce => sce::loss(out, labels, classes, grad),
        }
    }
}

impl std::str::FromStr for Head {
    type Err = Error;
    fn from_str(s: &str) -> Result<Head> {
        Head::parse(s)
    }
}

impl std::fmt::Display for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Index of the largest value of each row of `out` (`[n, classes]`); ties
/// go to the lowest index.
pub fn argmax_rows(out: &[f32], classes: usize) -> impl Iterator<Item = usize> + '_ {
    out.chunks_exact(classes).map(|row| {
        let mut best = 0;
        for (i, &v) in row.iter().enumerate() {
            if v > row[best] {
                best = i;
            }
        }
        best
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_argmax() {
        assert_eq!(Head::parse("LQ").unwrap(), Head::Lq);
        assert_eq!(Head::parse("sce").unwrap(), Head::Sce);
        assert!(Head::parse("mse2").is_err());
        let out = [0.1, 0.9, 0.9, 3.0, -1.0, 2.0];
        assert_eq!(argmax_rows(&out, 3).collect::<Vec<_>>(), vec![1, 0]);
    }
}
