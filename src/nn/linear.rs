//! Fully connected layer: `y = x · Wᵀ + b`, with `W` stored `[out, in]` as
//! in PyTorch's `nn.Linear`.

use super::{Layer, Mode, Param, matmul};

/// A fully connected layer.
///
/// ```
/// use parana::nn::{Layer, Linear, Mode};
/// let mut l = Linear::new(2, 1);
/// l.params_mut()[0].value.copy_from_slice(&[2.0, -1.0]); // W [1, 2]
/// l.params_mut()[1].value[0] = 0.5; // b
/// let (x, mut y) = ([1.0, 3.0], [0.0]);
/// l.forward(&x, &mut y, 1, Mode::Eval);
/// assert_eq!(y, [2.0 * 1.0 - 3.0 + 0.5]);
/// // Backward with dL/dy = 1: dL/dx = W, dL/dW = x, dL/db = 1.
/// let mut dx = [0.0; 2];
/// l.backward(&x, &y, &[1.0], Some(&mut dx), 1, true);
/// assert_eq!((dx, &l.params()[0].grad[..], l.params()[1].grad[0]), ([2.0, -1.0], &[1.0, 3.0][..], 1.0));
/// ```
pub struct Linear {
    in_len: usize,
    out_len: usize,
    /// `[weight [out, in], bias [out]]`.
    params: Vec<Param>,
}

impl Linear {
    /// A layer from `in_len` to `out_len` features, all parameters zero (the
    /// model's initialiser fills them).
    pub fn new(in_len: usize, out_len: usize) -> Self {
        Linear::from_parts(
            in_len,
            out_len,
            vec![0.0; out_len * in_len],
            vec![0.0; out_len],
        )
    }

    /// A layer from `in_len` to `out_len` features holding `weight`
    /// (`[out, in]`, row-major) and `bias`.
    pub fn from_parts(in_len: usize, out_len: usize, weight: Vec<f32>, bias: Vec<f32>) -> Self {
        let params = vec![
            Param::new("weight", vec![out_len, in_len], weight, true),
            Param::new("bias", vec![out_len], bias, false),
        ];
        Linear {
            in_len,
            out_len,
            params,
        }
    }
}

impl Layer for Linear {
    fn kind(&self) -> &'static str {
        "linear"
    }
    fn in_len(&self) -> usize {
        self.in_len
    }
    fn out_len(&self) -> usize {
        self.out_len
    }

    fn forward(&mut self, x: &[f32], y: &mut [f32], batch: usize, _mode: Mode) {
        let (n, k) = (self.out_len, self.in_len);
        let y = &mut y[..batch * n];
        let bias = &self.params[1].value;
        // Start from the bias and let gemm accumulate onto it: one pass less
        // than adding the bias afterwards.
        for row in y.chunks_exact_mut(n) {
            row.copy_from_slice(bias);
        }
        matmul::nt(
            batch,
            n,
            k,
            &x[..batch * k],
            &self.params[0].value,
            y,
            true,
            matmul::threads(),
        );
    }

    fn forward_relu(&mut self, x: &[f32], y: &mut [f32], batch: usize, _mode: Mode) -> bool {
        let (n, k) = (self.out_len, self.in_len);
        let y = &mut y[..batch * n];
        let t = matmul::threads();
        matmul::nt(
            batch,
            n,
            k,
            &x[..batch * k],
            &self.params[0].value,
            y,
            false,
            t,
        );
        let bias = &self.params[1].value;
        let finish = |rows: &mut [f32]| {
            for row in rows.chunks_exact_mut(n) {
                for (v, b) in row.iter_mut().zip(bias) {
                    *v = (*v + b).max(0.0);
                }
            }
        };
        // Bias and ReLU in one pass, split by rows across threads.
        if batch * n >= 1 << 16 {
            use rayon::prelude::*;
            let rows = (batch / (4 * t.max(1))).max(1);
            y.par_chunks_mut(rows * n).for_each(finish);
        } else {
            finish(y);
        }
        true
    }

    fn backward(
        &mut self,
        x: &[f32],
        _y: &[f32],
        dy: &[f32],
        dx: Option<&mut [f32]>,
        batch: usize,
        param_grads: bool,
    ) {
        let (n, k) = (self.out_len, self.in_len);
        let dy = &dy[..batch * n];
        let t = matmul::threads();
        if param_grads {
            let (w, b) = self.params.split_at_mut(1);
            // dW[out, in] = dyᵀ · x
            matmul::tn(n, k, batch, dy, &x[..batch * k], &mut w[0].grad, false, t);
            // db = column sums of dy, summed in row order (deterministic).
            let db = &mut b[0].grad;
            db.iter_mut().for_each(|v| *v = 0.0);
            for row in dy.chunks_exact(n) {
                db.iter_mut().zip(row).for_each(|(a, b)| *a += b);
            }
        }
        if let Some(dx) = dx {
            // dx[batch, in] = dy · W
            matmul::nn(
                batch,
                k,
                n,
                dy,
                &self.params[0].value,
                &mut dx[..batch * k],
                false,
                t,
            );
        }
    }

    fn params(&self) -> &[Param] {
        &self.params
    }
    fn params_mut(&mut self) -> &mut [Param] {
        &mut self.params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{check, rand_vec};
    use crate::rng::Rng;

    fn layer(rng: &mut Rng, i: usize, o: usize) -> Linear {
        let mut l = Linear::new(i, o);
        for p in l.params_mut() {
            p.value = rand_vec(rng, p.len());
        }
        l
    }

    #[test]
    fn forward_matches_definition() {
        let mut r = Rng::new(1);
        let mut l = layer(&mut r, 5, 3);
        let x = rand_vec(&mut r, 2 * 5);
        let mut y = vec![0.0; 2 * 3];
        l.forward(&x, &mut y, 2, Mode::Eval);
        let (w, b) = (&l.params[0].value, &l.params[1].value);
        for s in 0..2 {
            for o in 0..3 {
                let want: f32 = b[o] + (0..5).map(|i| w[o * 5 + i] * x[s * 5 + i]).sum::<f32>();
                assert!((y[s * 3 + o] - want).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut r = Rng::new(2);
        for &(i, o, b) in &[(4, 3, 1), (17, 9, 5), (40, 33, 8)] {
            let mut l = layer(&mut r, i, o);
            let x = rand_vec(&mut r, b * i);
            check(&mut l, &x, b, Mode::Eval, 1e-2, 2e-3, 200);
        }
    }

    #[test]
    fn fused_relu_equals_linear_then_relu() {
        let mut r = Rng::new(4);
        for batch in [1, 3, 300] {
            let mut l = layer(&mut r, 40, 300);
            let x = rand_vec(&mut r, batch * 40);
            let mut y = vec![0.0; batch * 300];
            l.forward(&x, &mut y, batch, Mode::Eval);
            let want: Vec<f32> = y.iter().map(|v| v.max(0.0)).collect();
            let mut fused = vec![7.0; batch * 300];
            assert!(l.forward_relu(&x, &mut fused, batch, Mode::Eval));
            for (a, b) in fused.iter().zip(&want) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn input_gradient_only_leaves_param_grads_alone() {
        let mut r = Rng::new(3);
        let mut l = layer(&mut r, 6, 4);
        l.params[0].grad.fill(7.0);
        let x = rand_vec(&mut r, 12);
        let mut y = vec![0.0; 8];
        l.forward(&x, &mut y, 2, Mode::Eval);
        let mut dx = vec![0.0; 12];
        l.backward(&x, &y, &[1.0; 8], Some(&mut dx), 2, false);
        assert!(l.params[0].grad.iter().all(|&g| g == 7.0));
        assert!(dx.iter().any(|&g| g != 0.0));
    }
}
