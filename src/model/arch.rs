//! Architectures: the article's presets and custom shapes.
//!
//! An architecture is an input image shape, an optional stack of
//! convolutions (stride 1, SAME padding, ReLU, no pooling), fully connected
//! hidden layers (ReLU, optional dropout) and a linear output layer.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// One convolution: `kh x kw` kernels, `out` output channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvSpec {
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Output channels.
    pub out: usize,
}

/// A network's shape.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arch {
    /// Input `[height, width, channels]`.
    pub input: [usize; 3],
    /// Convolutions, in order (empty for an MLP).
    #[serde(default)]
    pub convs: Vec<ConvSpec>,
    /// Widths of the fully connected hidden layers.
    pub hidden: Vec<usize>,
    /// Number of classes (outputs).
    pub classes: usize,
    /// Dropout probability after each hidden fully connected layer.
    #[serde(default)]
    pub dropout: f32,
}

/// Names of the presets, for help texts.
pub const PRESETS: &[&str] = &["article-mlp", "seed-mlp", "article-cnn"];

impl Arch {
    /// A preset by name: `article-mlp` (784-1500-1000-800-10, the article),
    /// `seed-mlp` (784-1500-800-400-10, the original notebooks) or
    /// `article-cnn` (conv 7x7x12, 5x5x15, 3x3x25, 3x3x20 -> 1500 -> 500 -> 10).
    pub fn preset(name: &str) -> Result<Arch> {
        let mlp = |hidden: &[usize]| Arch {
            input: [28, 28, 1],
            convs: vec![],
            hidden: hidden.to_vec(),
            classes: 10,
            dropout: 0.0,
        };
        match name {
            "article-mlp" => Ok(mlp(&[1500, 1000, 800])),
            "seed-mlp" => Ok(mlp(&[1500, 800, 400])),
            "article-cnn" => Ok(Arch {
                convs: parse_convs("7x7x12,5x5x15,3x3x25,3x3x20")?,
                ..mlp(&[1500, 500])
            }),
            _ => Err(Error::input(format!(
                "unknown architecture '{name}' (presets: {})",
                PRESETS.join(", ")
            ))),
        }
    }

    /// A custom MLP or CNN for 28x28x1 inputs and 10 classes.
    pub fn custom(hidden: Vec<usize>, convs: Vec<ConvSpec>) -> Result<Arch> {
        let a = Arch {
            input: [28, 28, 1],
            convs,
            hidden,
            classes: 10,
            dropout: 0.0,
        };
        a.validate()?;
        Ok(a)
    }

    /// Check that every size is positive and the network is not absurdly
    /// large.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::input(format!("invalid architecture: {m}")));
        if self.input.contains(&0) || self.classes < 2 {
            return bad(format!("input {:?}, {} classes", self.input, self.classes));
        }
        if self.hidden.contains(&0) {
            return bad("a hidden layer of width 0".into());
        }
        for c in &self.convs {
            if c.kh == 0 || c.kw == 0 || c.out == 0 || c.kh > 64 || c.kw > 64 {
                return bad(format!("convolution {}x{}x{}", c.kh, c.kw, c.out));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout {} outside [0, 1)", self.dropout));
        }
        if self.param_count() > 1 << 31 {
            return bad("more than 2^31 parameters".into());
        }
        Ok(())
    }

    /// Inputs per sample.
    pub fn in_len(&self) -> usize {
        self.input.iter().product()
    }

    /// Width of the first fully connected layer's input.
    pub fn flat_len(&self) -> usize {
        let [h, w, c] = self.input;
        h * w * self.convs.last().map_or(c, |s| s.out)
    }

    /// Number of learnable parameters (weights and biases).
    pub fn param_count(&self) -> usize {
        let [h, w, mut c] = self.input;
        let _ = (h, w);
        let mut n = 0usize;
        for s in &self.convs {
            n = n.saturating_add(s.out * c * s.kh * s.kw + s.out);
            c = s.out;
        }
        let mut prev = self.flat_len();
        for &o in self.hidden.iter().chain(std::iter::once(&self.classes)) {
            n = n.saturating_add(prev.saturating_mul(o) + o);
            prev = o;
        }
        n
    }

    /// The description of a decoupled CNN of this shape (its layers all
    /// matrices): `decoupled cnn 784-9408-11760-19600-15680-1500-500-10`
    /// rather than the chain of matrices [`Arch::describe`] would say.
    pub fn describe_decoupled(&self) -> String {
        self.describe().replacen("mlp ", "decoupled cnn ", 1)
    }

    /// Short description, e.g. `mlp 784-1500-1000-800-10` or
    /// `cnn 28x28x1 conv 7x7x12,5x5x15 fc 1500,500 -> 10`.
    pub fn describe(&self) -> String {
        let fc: Vec<String> = self.hidden.iter().map(|h| h.to_string()).collect();
        let mut s = if self.convs.is_empty() {
            format!("mlp {}-{}-{}", self.in_len(), fc.join("-"), self.classes).replace("--", "-")
        } else {
            let cv: Vec<String> = self
                .convs
                .iter()
                .map(|c| format!("{}x{}x{}", c.kh, c.kw, c.out))
                .collect();
            let [h, w, c] = self.input;
            format!(
                "cnn {h}x{w}x{c} conv {} fc {} -> {}",
                cv.join(","),
                fc.join(","),
                self.classes
            )
        };
        if self.dropout > 0.0 {
            s += &format!(" dropout {}", self.dropout);
        }
        s
    }
}

/// Parse `1500,1000,800` into widths.
pub fn parse_hidden(s: &str) -> Result<Vec<usize>> {
    if s.trim().is_empty() {
        return Ok(vec![]);
    }
    s.split(',')
        .map(|p| {
            p.trim()
                .parse::<usize>()
                .ok()
                .filter(|&v| v > 0)
                .ok_or_else(|| {
                    Error::input(format!(
                        "bad hidden width '{p}' in '{s}' (expected e.g. 1500,1000,800)"
                    ))
                })
        })
        .collect()
}

/// Parse `7x7x12,5x5x15` into convolutions.
pub fn parse_convs(s: &str) -> Result<Vec<ConvSpec>> {
    if s.trim().is_empty() {
        return Ok(vec![]);
    }
    s.split(',')
        .map(|p| {
            let v: Vec<usize> = p.trim().split('x').filter_map(|t| t.parse().ok()).collect();
            match v.as_slice() {
                [kh, kw, out] if *kh > 0 && *kw > 0 && *out > 0 => Ok(ConvSpec {
                    kh: *kh,
                    kw: *kw,
                    out: *out,
                }),
                _ => Err(Error::input(format!(
                    "bad convolution '{p}' in '{s}' (expected KHxKWxOUT, e.g. 7x7x12)"
                ))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_have_the_article_shapes() {
        let m = Arch::preset("article-mlp").unwrap();
        assert_eq!(m.describe(), "mlp 784-1500-1000-800-10");
        assert_eq!(
            m.param_count(),
            784 * 1500 + 1500 + 1500 * 1000 + 1000 + 1000 * 800 + 800 + 8010
        );
        assert_eq!(
            Arch::preset("seed-mlp").unwrap().hidden,
            vec![1500, 800, 400]
        );
        let c = Arch::preset("article-cnn").unwrap();
        assert_eq!(c.flat_len(), 15680);
        assert_eq!(
            c.describe(),
            "cnn 28x28x1 conv 7x7x12,5x5x15,3x3x25,3x3x20 fc 1500,500 -> 10"
        );
        assert!(Arch::preset("resnet").is_err());
    }

    #[test]
    fn parsing_custom_shapes() {
        assert_eq!(parse_hidden("10, 20").unwrap(), vec![10, 20]);
        assert!(parse_hidden("10,0").is_err());
        assert!(parse_hidden("10,x").is_err());
        assert_eq!(
            parse_convs("3x5x7").unwrap(),
            vec![ConvSpec {
                kh: 3,
                kw: 5,
                out: 7
            }]
        );
        assert!(parse_convs("3x5").is_err());
        let json = serde_json::to_string(&Arch::preset("article-cnn").unwrap()).unwrap();
        let back: Arch = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Arch::preset("article-cnn").unwrap());
    }
}
