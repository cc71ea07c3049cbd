//! Adam, fused: one pass over each parameter buffer updates the moments and
//! the weight in place, with L2 weight decay folded into the gradient.
//!
//! The update is PyTorch's `torch.optim.Adam` (bias-corrected moments,
//! `eps` added to the corrected second-moment root), with L2 as the
//! article's `lambda * sum(w²) / 2`, whose gradient `lambda * w` is added to
//! the gradient of every parameter with `decay` set (weights, not biases).

use super::Param;
use rayon::prelude::*;

/// Elements per parallel chunk; small tensors run on one thread.
const CHUNK: usize = 1 << 15;

/// Adam's settings and state.
#[derive(Clone, Debug)]
pub struct Adam {
    /// Learning rate.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Denominator guard.
    pub eps: f32,
    /// L2 coefficient lambda (loss term `lambda * sum(w²) / 2`).
    pub l2: f32,
    /// Steps taken so far.
    pub t: u64,
    /// First moments, one buffer per parameter tensor.
    pub m: Vec<Vec<f32>>,
    /// Second moments, one buffer per parameter tensor.
    pub v: Vec<Vec<f32>>,
}

impl Adam {
    /// Adam with PyTorch's default betas and eps, state for tensors of
    /// `sizes`.
    pub fn new(lr: f32, l2: f32, sizes: &[usize]) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            l2,
            t: 0,
            m: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            v: sizes.iter().map(|&n| vec![0.0; n]).collect(),
        }
    }

    /// One update of every parameter from its `grad`. `params` must come in
    /// the same order, with the same sizes, as at construction.
    pub fn step<'a>(&mut self, params: impl IntoIterator<Item = &'a mut Param>) {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let bc1 = 1.0 - (b1 as f64).powi(self.t as i32);
        let bc2 = 1.0 - (b2 as f64).powi(self.t as i32);
        let step = (self.lr as f64 / bc1) as f32;
        let inv_sqrt_bc2 = (1.0 / bc2.sqrt()) as f32;
        let eps = self.eps;
        for (i, p) in params.into_iter().enumerate() {
            let l2 = if p.decay { self.l2 } else { 0.0 };
            let (m, v) = (&mut self.m[i], &mut self.v[i]);
            assert_eq!(
                m.len(),
                p.value.len(),
                "Adam state does not match parameter {i}"
            );
            let update = |w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
                for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    let g = g + l2 * *w;
                    *m = b1 * *m + (1.0 - b1) * g;
                    *v = b2 * *v + (1.0 - b2) * g * g;
                    *w -= step * *m / (v.sqrt() * inv_sqrt_bc2 + eps);
                }
            };
            if p.value.len() >= 2 * CHUNK {
                p.value
                    .par_chunks_mut(CHUNK)
                    .zip(p.grad.par_chunks(CHUNK))
                    .zip(m.par_chunks_mut(CHUNK).zip(v.par_chunks_mut(CHUNK)))
                    .for_each(|((w, g), (m, v))| update(w, g, m, v));
            } else {
                update(&mut p.value, &p.grad, m, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference Adam in f64 exactly as torch.optim.Adam documents it.
    fn reference(w0: f64, grads: &[f64], lr: f64, l2: f64) -> f64 {
        let (mut w, mut m, mut v) = (w0, 0.0, 0.0);
        for (t, g) in grads.iter().enumerate() {
            let t = t as i32 + 1;
            let g = g + l2 * w;
            m = 0.9 * m + 0.1 * g;
            v = 0.999 * v + 0.001 * g * g;
            let mh = m / (1.0 - 0.9f64.powi(t));
            let vh = v / (1.0 - 0.999f64.powi(t));
            w -= lr * mh / (vh.sqrt() + 1e-8);
        }
        w
    }

    #[test]
    fn matches_reference_with_and_without_decay() {
        let n = 3 * CHUNK; // exercises the parallel path
        let mut w = Param::new("weight", vec![n], vec![0.5; n], true);
        let mut b = Param::new("bias", vec![3], vec![0.5; 3], false);
        let mut adam = Adam::new(1e-2, 0.1, &[n, 3]);
        let grads = [0.3, -0.2, 0.05, 1.0, -0.7];
        for &g in &grads {
            w.grad.fill(g as f32);
            b.grad.fill(g as f32);
            adam.step([&mut w, &mut b]);
        }
        let want_w = reference(0.5, &grads, 1e-2, 0.1);
        let want_b = reference(0.5, &grads, 1e-2, 0.0);
        assert!(
            w.value.iter().all(|&x| (x as f64 - want_w).abs() < 1e-5),
            "{} vs {want_w}",
            w.value[0]
        );
        assert!(b.value.iter().all(|&x| (x as f64 - want_b).abs() < 1e-5));
        assert!(
            (want_w - want_b).abs() > 1e-4,
            "decay must make a difference"
        );
    }
}
