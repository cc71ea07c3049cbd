//! [`SparseTrainable`]: a fully connected layer stored sparse (CSR,
//! optionally with the following ReLU fused) that also trains, for
//! decoupled CNNs: their matrices (784x9408 ... 19600x15680) are far too
//! large to hold dense, so pruning and fine-tuning work on the stored
//! weights only.
//!
//! Its parameters are `weight`, the stored values (`[nnz]`, in CSR order),
//! and `bias` (`[out]`). Backward: `dX = (dY ⊙ relu'(Y)) · W` through
//! [`kernel::backward_input`]; `dW` only for the stored weights (each one a
//! dot product over the batch of its output's gradient and its input,
//! both feature-major); `db` the batch sum. Weights set to zero (pruned)
//! stay stored in the parameters, but the forward engine drops them, so a
//! pruned layer runs in proportion to the weights left.

use super::csr::Csr;
use super::kernel;
use super::linear::SparseLinear;
use crate::nn::{Layer, Mode, Param};
use rayon::prelude::*;

/// Rows per parallel task of the weight gradient.
const ROWS_PER_TASK: usize = 64;

/// `y = x · Wᵀ + b` (then ReLU when `relu`) with a sparse, trainable `W`.
pub struct SparseTrainable {
    /// The structure of `W` (every stored position; values unused).
    structure: Csr,
    /// `weight` (stored values) and `bias`.
    params: [Param; 2],
    relu: bool,
    /// The forward engine on the non-zero weights.
    engine: SparseLinear,
    /// The parameters may have changed since `engine` was built.
    dirty: bool,
    /// Scratch: the output gradient and the input, feature-major.
    gt: Vec<f32>,
    xt: Vec<f32>,
}

impl SparseTrainable {
    /// A layer over the stored weights of `w`, with one bias per output.
    pub fn new(w: Csr, bias: Vec<f32>, relu: bool) -> SparseTrainable {
        assert_eq!(w.rows(), bias.len(), "one bias per output");
        let params = [
            Param::new("weight", vec![w.nnz()], w.val().to_vec(), true),
            Param::new("bias", vec![w.rows()], bias.clone(), false),
        ];
        SparseTrainable {
            engine: SparseLinear::new(w.clone(), bias, relu),
            structure: w,
            params,
            relu,
            dirty: true,
            gt: Vec::new(),
            xt: Vec::new(),
        }
    }

    /// The stored structure (with the current values).
    pub fn weights(&self) -> Csr {
        let mut w = self.structure.clone();
        w.val_mut().copy_from_slice(&self.params[0].value);
        w
    }

    /// The biases.
    pub fn bias(&self) -> &[f32] {
        &self.params[1].value
    }

    /// Whether ReLU is applied to the outputs.
    pub fn relu(&self) -> bool {
        self.relu
    }

    /// Rebuild the forward engine from the parameters if they changed:
    /// in place when every stored weight is non-zero and the engine holds
    /// them all, else on the non-zero ones only.
    fn sync(&mut self) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let [w, b] = &self.params;
        let nonzero = w.value.iter().filter(|&&v| v != 0.0).count();
        if nonzero == w.value.len() && self.engine.weights().nnz() == nonzero {
            self.engine.set_values(&w.value, &b.value);
            return;
        }
        let keep: Vec<bool> = w.value.iter().map(|&v| v != 0.0).collect();
        let full = self.weights();
        self.engine = SparseLinear::new(full.retain(&keep), b.value.clone(), self.relu);
    }
}

/// `sum(a[i] * b[i])` with eight independent accumulators.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// `src` (`[batch, len]`) feature-major into `dst` (`[len, batch]`).
fn transpose(src: &[f32], len: usize, batch: usize, dst: &mut Vec<f32>) {
    dst.resize(len * batch, 0.0);
    for (b, row) in src.chunks_exact(len).take(batch).enumerate() {
        for (f, &v) in row.iter().enumerate() {
            dst[f * batch + b] = v;
        }
    }
}

impl Layer for SparseTrainable {
    fn kind(&self) -> &'static str {
        "sparse_trainable"
    }
    fn in_len(&self) -> usize {
        self.structure.cols()
    }
    fn out_len(&self) -> usize {
        self.structure.rows()
    }
    fn forward(&mut self, x: &[f32], y: &mut [f32], batch: usize, mode: Mode) {
        self.sync();
        self.engine.forward(x, y, batch, mode);
    }
    fn backward(
        &mut self,
        x: &[f32],
        y: &[f32],
        dy: &[f32],
        dx: Option<&mut [f32]>,
        batch: usize,
        param_grads: bool,
    ) {
        self.sync();
        let (rows, cols) = (self.structure.rows(), self.structure.cols());
        if let Some(dx) = dx {
            kernel::backward_input(self.engine.weights(), self.relu, y, dy, dx, batch);
        }
        if !param_grads {
            return;
        }
        // The output gradient through the ReLU, feature-major.
        let g: Vec<f32> = dy[..batch * rows]
            .iter()
            .zip(&y[..batch * rows])
            .map(|(&d, &v)| if self.relu && v <= 0.0 { 0.0 } else { d })
            .collect();
        transpose(&g, rows, batch, &mut self.gt);
        transpose(&x[..batch * cols], cols, batch, &mut self.xt);
        let (gt, xt) = (&self.gt, &self.xt);
        let [w, b] = &mut self.params;
        for (r, gb) in b.grad.iter_mut().enumerate() {
            *gb = gt[r * batch..(r + 1) * batch].iter().sum();
        }
        let (ptr, idx) = (self.structure.ptr(), self.structure.idx());
        // Split the weight gradient into blocks of rows, one task each.
        let mut blocks: Vec<(usize, &mut [f32])> = Vec::new();
        let mut rest: &mut [f32] = &mut w.grad;
        for r0 in (0..rows).step_by(ROWS_PER_TASK) {
            let r1 = (r0 + ROWS_PER_TASK).min(rows);
            let (head, tail) = rest.split_at_mut(ptr[r1] - ptr[r0]);
            blocks.push((r0, head));
            rest = tail;
        }
        let one = |(r0, grad): (usize, &mut [f32])| {
            let r1 = (r0 + ROWS_PER_TASK).min(rows);
            for r in r0..r1 {
                let gr = &gt[r * batch..(r + 1) * batch];
                for j in ptr[r]..ptr[r + 1] {
                    let c = idx[j] as usize;
                    grad[j - ptr[r0]] = dot(gr, &xt[c * batch..(c + 1) * batch]);
                }
            }
        };
        if rayon::current_num_threads() > 1 && self.structure.nnz() * batch >= 1 << 17 {
            blocks.into_par_iter().for_each(one);
        } else {
            blocks.into_iter().for_each(one);
        }
    }
    fn params(&self) -> &[Param] {
        &self.params
    }
    fn params_mut(&mut self) -> &mut [Param] {
        self.dirty = true;
        &mut self.params
    }
    fn sparse_structure(&self) -> Option<(&[usize], &[u32])> {
        Some((self.structure.ptr(), self.structure.idx()))
    }
    fn describe(&self) -> String {
        let nonzero = self.params[0].value.iter().filter(|&&v| v != 0.0).count();
        format!(
            "sparse_trainable {} -> {} ({} stored, {:.2}% dense{})",
            self.in_len(),
            self.out_len(),
            nonzero,
            100.0 * nonzero as f64 / (self.in_len() * self.out_len()).max(1) as f64,
            if self.relu { ", relu" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check, rand_vec};
    use crate::rng::Rng;

    fn layer(relu: bool, seed: u64) -> SparseTrainable {
        let mut r = Rng::new(seed);
        let (o, i) = (13, 21);
        let w: Vec<f32> = (0..o * i)
            .map(|k| {
                if k % 3 == 0 {
                    r.uniform_f32() - 0.5
                } else {
                    0.0
                }
            })
            .collect();
        let b = rand_vec(&mut r, o);
        SparseTrainable::new(Csr::from_dense(&w, o, i), b, relu)
    }

    #[test]
    fn gradients_match_finite_differences() {
        for relu in [false, true] {
            for batch in [1, 5, 70] {
                let mut l = layer(relu, 3);
                let x = rand_vec(&mut Rng::new(4), batch * l.in_len());
                if relu {
                    // Pre-activations away from ReLU's kink (so the finite
                    // differences do not cross it): half the outputs on,
                    // half off.
                    for (o, b) in l.params_mut()[1].value.iter_mut().enumerate() {
                        *b = if o % 2 == 0 { 3.0 } else { -3.0 };
                    }
                }
                check(&mut l, &x, batch, Mode::Eval, 1e-2, 1e-2, 60);
            }
        }
    }

    #[test]
    fn zeroed_weights_are_skipped_but_stay_trainable() {
        let mut l = layer(true, 5);
        let nnz = l.params()[0].len();
        for v in &mut l.params_mut()[0].value[..nnz / 2] {
            *v = 0.0;
        }
        let x = rand_vec(&mut Rng::new(6), 3 * l.in_len());
        let mut y = vec![0.0; 3 * l.out_len()];
        l.forward(&x, &mut y, 3, Mode::Eval);
        assert_eq!(l.engine.weights().nnz(), nnz - nnz / 2);
        // The same outputs as a dense computation.
        let w = l.weights().to_dense();
        for b in 0..3 {
            for o in 0..l.out_len() {
                let s: f32 = (0..l.in_len())
                    .map(|c| w[o * l.in_len() + c] * x[b * l.in_len() + c])
                    .sum::<f32>()
                    + l.bias()[o];
                assert!((y[b * l.out_len() + o] - s.max(0.0)).abs() < 1e-5);
            }
        }
        // Pruned (zero) weights still get a gradient slot: a keep mask
        // decides whether they move.
        let dy = vec![1.0; y.len()];
        l.backward(&x, &y, &dy, None, 3, true);
        assert_eq!(l.params()[0].grad.len(), nnz);
    }
}
