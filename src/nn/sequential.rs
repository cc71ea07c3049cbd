//! A chain of layers with the activation and gradient buffers between them.
//!
//! Buffers are sized for the largest batch seen and reused, so a training
//! loop allocates nothing after its first step.

use super::{Buffer, Layer, Mode, Param};

/// Layers applied in order.
pub struct Sequential {
    layers: Vec<Box<dyn Layer>>,
    /// Output of each layer, `capacity * out_len` each, cache-line aligned
    /// (see [`Buffer`]).
    acts: Vec<Buffer>,
    /// Gradient with respect to each layer's output.
    grads: Vec<Buffer>,
    capacity: usize,
    batch: usize,
}

impl Sequential {
    /// A network from `layers`; panics if their sizes do not chain (a
    /// programming error: model construction checks user-given shapes).
    pub fn new(layers: Vec<Box<dyn Layer>>) -> Self {
        assert!(!layers.is_empty(), "a network needs at least one layer");
        for w in layers.windows(2) {
            assert_eq!(
                w[0].out_len(),
                w[1].in_len(),
                "{} does not feed {}",
                w[0].describe(),
                w[1].describe()
            );
        }
        let n = layers.len();
        Sequential {
            layers,
            acts: vec![Buffer::new(); n],
            grads: vec![Buffer::new(); n],
            capacity: 0,
            batch: 0,
        }
    }

    /// Inputs per sample.
    pub fn in_len(&self) -> usize {
        self.layers[0].in_len()
    }

    /// Outputs per sample.
    pub fn out_len(&self) -> usize {
        self.layers[self.layers.len() - 1].out_len()
    }

    /// The layers.
    pub fn layers(&self) -> &[Box<dyn Layer>] {
        &self.layers
    }

    /// The layers, mutable.
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer>] {
        &mut self.layers
    }

    /// Take the layers back (e.g. to rebuild the network with some replaced).
    pub fn into_layers(self) -> Vec<Box<dyn Layer>> {
        self.layers
    }

    /// Every parameter tensor, in layer order.
    pub fn params(&self) -> impl Iterator<Item = &Param> {
        self.layers.iter().flat_map(|l| l.params().iter())
    }

    /// Every parameter tensor, mutable, in layer order.
    pub fn params_mut(&mut self) -> impl Iterator<Item = &mut Param> {
        self.layers
            .iter_mut()
            .flat_map(|l| l.params_mut().iter_mut())
    }

    fn reserve(&mut self, batch: usize) {
        if batch <= self.capacity {
            return;
        }
        for (i, l) in self.layers.iter().enumerate() {
            self.acts[i].resize(batch * l.out_len(), 0.0);
            self.grads[i].resize(batch * l.out_len(), 0.0);
        }
        self.capacity = batch;
    }

    /// Run `batch` samples `x` through every layer; returns the outputs.
    pub fn forward(&mut self, x: &[f32], batch: usize, mode: Mode) -> &[f32] {
        self.forward_range(0, self.layers.len(), x, batch, mode)
    }

    /// Run `batch` samples through layers `start..end` only (`x` is the
    /// input of layer `start`); returns the output of layer `end - 1`.
    /// Sweeps use it to compute the layers before the first pruned one
    /// once. Only a full-range forward may be followed by
    /// [`Sequential::backward`].
    pub fn forward_range(
        &mut self,
        start: usize,
        end: usize,
        x: &[f32],
        batch: usize,
        mode: Mode,
    ) -> &[f32] {
        assert!(start < end && end <= self.layers.len(), "bad layer range");
        assert!(
            x.len() >= batch * self.layers[start].in_len(),
            "input too short"
        );
        self.reserve(batch);
        self.batch = batch;
        let mut i = start;
        while i < end {
            let layer_mode = |i: usize| match mode {
                // Each layer gets its own stream of random numbers.
                Mode::Train { seed } => Mode::Train {
                    seed: seed.wrapping_mul(0x100_0000_01B3).wrapping_add(i as u64),
                },
                Mode::Eval => Mode::Eval,
            };
            // Layers get slices of exactly `batch` samples, whatever the
            // buffers' capacity.
            let n_in = batch * self.layers[i].in_len();
            let fuse = i + 1 < end && self.layers[i + 1].kind() == "relu";
            let (before, after) = self.acts.split_at_mut(i);
            let input: &[f32] = if i == start {
                &x[..n_in]
            } else {
                &before[i - 1][..n_in]
            };
            if fuse {
                // Write relu(f(x)) straight into the ReLU's buffer; this
                // layer's own output is then not kept (see `activation`).
                let n_out = batch * self.layers[i + 1].out_len();
                if self.layers[i].forward_relu(input, &mut after[1][..n_out], batch, layer_mode(i))
                {
                    i += 2;
                    continue;
                }
            }
            let n_out = batch * self.layers[i].out_len();
            self.layers[i].forward(input, &mut after[0][..n_out], batch, layer_mode(i));
            i += 1;
        }
        let n = batch * self.layers[end - 1].out_len();
        &self.acts[end - 1][..n]
    }

    /// Mutable view of the last forward's output gradient buffer, for the
    /// head to write `dL/dout` into before [`Sequential::backward`].
    pub fn output_grad_mut(&mut self) -> &mut [f32] {
        let n = self.batch * self.out_len();
        let last = self.layers.len() - 1;
        &mut self.grads[last][..n]
    }

    /// The last forward's output and its gradient buffer, together, so a
    /// head can write `dL/dout` without copying the output.
    pub fn output_and_grad_mut(&mut self) -> (&[f32], &mut [f32]) {
        let n = self.batch * self.out_len();
        let last = self.layers.len() - 1;
        (&self.acts[last][..n], &mut self.grads[last][..n])
    }

    /// Output of the last forward (`batch * out_len()` values).
    pub fn output(&self) -> &[f32] {
        let n = self.batch * self.out_len();
        &self.acts[self.layers.len() - 1][..n]
    }

    /// Output of layer `i` in the last forward (`batch * out_len` values):
    /// the input of layer `i + 1`. Pruning scores read these. A layer
    /// directly followed by a ReLU may have been fused with it (see
    /// [`Layer::forward_relu`]); its own pre-activation output is then not
    /// kept, so read the ReLU's output instead.
    pub fn activation(&self, i: usize) -> &[f32] {
        let n = self.batch * self.layers[i].out_len();
        &self.acts[i][..n]
    }

    /// Backpropagate the gradient in [`Sequential::output_grad_mut`] through
    /// the network of the last forward (whose input was `x`). Writes
    /// `dL/dx` into `dx` when given; fills parameter gradients when
    /// `param_grads`.
    pub fn backward(&mut self, x: &[f32], dx: Option<&mut [f32]>, param_grads: bool) {
        let batch = self.batch;
        let mut dx = dx;
        for i in (0..self.layers.len()).rev() {
            let n_in = batch * self.layers[i].in_len();
            let n_out = batch * self.layers[i].out_len();
            let input: &[f32] = if i == 0 {
                &x[..n_in]
            } else {
                &self.acts[i - 1][..n_in]
            };
            let (gbefore, gafter) = self.grads.split_at_mut(i);
            let dy = &gafter[0][..n_out];
            let dxi: Option<&mut [f32]> = if i == 0 {
                dx.as_deref_mut().map(|d| &mut d[..n_in])
            } else {
                Some(&mut gbefore[i - 1][..n_in])
            };
            self.layers[i].backward(input, &self.acts[i][..n_out], dy, dxi, batch, param_grads);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{assert_close, rand_vec};
    use crate::nn::{Linear, Relu, head::Head};
    use crate::rng::Rng;

    fn net(r: &mut Rng) -> Sequential {
        let mut s = Sequential::new(vec![
            Box::new(Linear::new(6, 5)),
            Box::new(Relu::new(5)),
            Box::new(Linear::new(5, 4)),
            Box::new(Relu::new(4)),
            Box::new(Linear::new(4, 3)),
        ]);
        for p in s.params_mut() {
            p.value = rand_vec(r, p.len());
        }
        s
    }

    /// The whole chain (both heads) against finite differences, for the
    /// input and for every parameter.
    #[test]
    fn chain_gradients_match_finite_differences() {
        let mut r = Rng::new(11);
        for head in [Head::Lq, Head::Sce] {
            let mut s = net(&mut r);
            let x = rand_vec(&mut r, 4 * 6);
            let labels = [0u8, 2, 1, 2];
            let out = s.forward(&x, 4, Mode::Eval).to_vec();
            head.loss(&out, &labels, 3, Some(s.output_grad_mut()));
            let mut dx = vec![0.0; x.len()];
            s.backward(&x, Some(&mut dx), true);
            let grads: Vec<Vec<f32>> = s.params().map(|p| p.grad.clone()).collect();
            let f = |s: &mut Sequential, x: &[f32]| {
                let out = s.forward(x, 4, Mode::Eval).to_vec();
                head.loss(&out, &labels, 3, None) as f64
            };
            let h = 1e-2;
            let mut xp = x.clone();
            for i in 0..x.len() {
                xp[i] = x[i] + h;
                let lp = f(&mut s, &xp);
                xp[i] = x[i] - h;
                let lm = f(&mut s, &xp);
                xp[i] = x[i];
                assert_close("dx", i, dx[i] as f64, (lp - lm) / (2.0 * h as f64), 2e-3);
            }
            for (pi, g) in grads.iter().enumerate() {
                for (j, &gj) in g.iter().enumerate() {
                    let orig = s.params().nth(pi).unwrap().value[j];
                    s.params_mut().nth(pi).unwrap().value[j] = orig + h;
                    let lp = f(&mut s, &x);
                    s.params_mut().nth(pi).unwrap().value[j] = orig - h;
                    let lm = f(&mut s, &x);
                    s.params_mut().nth(pi).unwrap().value[j] = orig;
                    assert_close("param", j, gj as f64, (lp - lm) / (2.0 * h as f64), 2e-3);
                }
            }
        }
    }

    #[test]
    fn a_forward_split_in_two_ranges_equals_the_whole() {
        let mut r = Rng::new(13);
        let mut s = net(&mut r);
        let x = rand_vec(&mut r, 5 * s.in_len());
        let whole = s.forward(&x, 5, Mode::Eval).to_vec();
        // Split before a ReLU (the range must not fuse across it) and after.
        for cut in 1..s.layers().len() {
            let mid = s.forward_range(0, cut, &x, 5, Mode::Eval).to_vec();
            assert_eq!(mid.len(), 5 * s.layers()[cut - 1].out_len());
            let n = s.layers().len();
            let rest = s.forward_range(cut, n, &mid, 5, Mode::Eval).to_vec();
            // Cutting before a ReLU unfuses it: equal up to rounding.
            for (i, (&a, &b)) in rest.iter().zip(&whole).enumerate() {
                assert_close("output", i, a as f64, b as f64, 1e-6);
            }
        }
    }

    #[test]
    fn batch_size_changes_reuse_buffers_correctly() {
        let mut r = Rng::new(12);
        let mut s = net(&mut r);
        let x = rand_vec(&mut r, 8 * 6);
        let big = s.forward(&x, 8, Mode::Eval).to_vec();
        let small = s.forward(&x[..2 * 6], 2, Mode::Eval).to_vec();
        assert_eq!(&big[..6], &small[..]);
        // Layers that insist on exact lengths (conv) after a larger batch.
        let mut c = Sequential::new(vec![
            Box::new(crate::nn::Conv2d::new(4, 4, 1, 2, 3, 3)),
            Box::new(Relu::new(32)),
            Box::new(crate::nn::Permute::nhwc_to_nchw(4, 4, 2)),
            Box::new(Linear::new(32, 3)),
        ]);
        for p in c.params_mut() {
            p.value = rand_vec(&mut r, p.len());
        }
        let x = rand_vec(&mut r, 8 * 16);
        let big = c.forward(&x, 8, Mode::Eval).to_vec();
        let small = c.forward(&x[..16], 1, Mode::Eval).to_vec();
        assert_eq!(&big[..3], &small[..]);
        let (_, g) = c.output_and_grad_mut();
        g.fill(1.0);
        let mut dx = vec![0.0; 16];
        c.backward(&x[..16], Some(&mut dx), true);
        assert!(dx.iter().any(|&v| v != 0.0));
    }
}
