//! Inverted dropout: in training each feature is zeroed with probability
//! `p` and the rest scaled by `1/(1-p)`; at inference it is the identity.
//!
//! Masks come from [`Rng::stream`] keyed by the pass seed, so a resumed run
//! draws exactly the masks an uninterrupted one would.

use super::{Layer, Mode};
use crate::rng::{Rng, purpose};

/// Dropout over `len` features with drop probability `p`.
pub struct Dropout {
    len: usize,
    p: f32,
    /// Per element: 0 or `1/(1-p)` from the last training forward.
    mask: Vec<f32>,
    /// Whether the last forward was a training one (else backward is identity).
    active: bool,
}

impl Dropout {
    /// Dropout with drop probability `p` in [0, 1).
    pub fn new(len: usize, p: f32) -> Self {
        assert!((0.0..1.0).contains(&p), "dropout p must be in [0, 1)");
        Dropout {
            len,
            p,
            mask: Vec::new(),
            active: false,
        }
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }
}

impl Layer for Dropout {
    fn kind(&self) -> &'static str {
        "dropout"
    }
    fn in_len(&self) -> usize {
        self.len
    }
    fn out_len(&self) -> usize {
        self.len
    }

    fn forward(&mut self, x: &[f32], y: &mut [f32], batch: usize, mode: Mode) {
        let n = batch * self.len;
        match mode {
            Mode::Train { seed } if self.p > 0.0 => {
                if self.mask.len() < n {
                    self.mask.resize(n, 0.0);
                }
                let mut rng = Rng::stream(seed, purpose::DROPOUT, 0);
                let keep = 1.0 - self.p;
                let scale = 1.0 / keep;
                for m in &mut self.mask[..n] {
                    *m = if rng.uniform_f32() < keep { scale } else { 0.0 };
                }
                for ((y, x), m) in y[..n].iter_mut().zip(&x[..n]).zip(&self.mask) {
                    *y = x * m;
                }
                self.active = true;
            }
            _ => {
                y[..n].copy_from_slice(&x[..n]);
                self.active = false;
            }
        }
    }

    fn backward(
        &mut self,
        _x: &[f32],
        _y: &[f32],
        dy: &[f32],
        dx: Option<&mut [f32]>,
        batch: usize,
        _param_grads: bool,
    ) {
        let Some(dx) = dx else { return };
        let n = batch * self.len;
        if self.active {
            for ((d, g), m) in dx[..n].iter_mut().zip(&dy[..n]).zip(&self.mask) {
                *d = g * m;
            }
        } else {
            dx[..n].copy_from_slice(&dy[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::check;

    #[test]
    fn drops_about_p_and_keeps_the_mean() {
        let n = 100_000;
        let mut d = Dropout::new(n, 0.3);
        let x = vec![1.0; n];
        let mut y = vec![0.0; n];
        d.forward(&x, &mut y, 1, Mode::Train { seed: 5 });
        let zeros = y.iter().filter(|&&v| v == 0.0).count() as f64 / n as f64;
        assert!((zeros - 0.3).abs() < 0.01, "dropped {zeros}");
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
        // Same seed, same mask; eval is the identity.
        let mut y2 = vec![0.0; n];
        d.forward(&x, &mut y2, 1, Mode::Train { seed: 5 });
        assert_eq!(y, y2);
        d.forward(&x, &mut y2, 1, Mode::Eval);
        assert_eq!(y2, x);
    }

    #[test]
    fn gradient_follows_the_mask() {
        let mut d = Dropout::new(10, 0.5);
        let x: Vec<f32> = (0..20).map(|i| i as f32 / 10.0).collect();
        check(&mut d, &x, 2, Mode::Train { seed: 9 }, 1e-2, 1e-3, 20);
    }
}
