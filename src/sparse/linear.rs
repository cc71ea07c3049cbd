//! [`SparseLinear`]: a fully connected layer whose weights are stored
//! sparse ([`Csr`]), optionally with the following ReLU fused in.
//!
//! It is an inference layer: `backward` computes the input gradient (so
//! adversarial attacks run on sparse models) but no weight gradients, and it
//! exposes no trainable parameters.

use super::csr::Csr;
use super::kernel::{self, Scratch};
use crate::nn::{Layer, Mode};

/// `y = x · Wᵀ + b` (then ReLU when `relu`) with a sparse `W [out, in]`.
pub struct SparseLinear {
    w: Csr,
    bias: Vec<f32>,
    relu: bool,
    scratch: Scratch,
}

impl SparseLinear {
    /// A layer from a validated matrix and one bias per output.
    pub fn new(w: Csr, bias: Vec<f32>, relu: bool) -> SparseLinear {
        assert_eq!(w.rows(), bias.len(), "one bias per output");
        SparseLinear {
            w,
            bias,
            relu,
            scratch: Scratch::default(),
        }
    }

    /// The non-zero weights of a dense `[out, in]` matrix.
    pub fn from_dense(weight: &[f32], out: usize, inp: usize, bias: &[f32], relu: bool) -> Self {
        SparseLinear::new(Csr::from_dense(weight, out, inp), bias.to_vec(), relu)
    }

    /// The weights.
    pub fn weights(&self) -> &Csr {
        &self.w
    }
    /// The biases.
    pub fn bias(&self) -> &[f32] {
        &self.bias
    }
    /// Whether ReLU is applied to the outputs.
    pub fn relu(&self) -> bool {
        self.relu
    }
}

impl Layer for SparseLinear {
    fn kind(&self) -> &'static str {
        "sparse_linear"
    }
    fn in_len(&self) -> usize {
        self.w.cols()
    }
    fn out_len(&self) -> usize {
        self.w.rows()
    }
    fn forward(&mut self, x: &[f32], y: &mut [f32], batch: usize, _mode: Mode) {
        kernel::forward(
            &self.w,
            &self.bias,
            self.relu,
            x,
            y,
            batch,
            &mut self.scratch,
        );
    }
    fn backward(
        &mut self,
        _x: &[f32],
        y: &[f32],
        dy: &[f32],
        dx: Option<&mut [f32]>,
        batch: usize,
        _param_grads: bool,
    ) {
        if let Some(dx) = dx {
            kernel::backward_input(&self.w, self.relu, y, dy, dx, batch);
        }
    }
    fn describe(&self) -> String {
        format!(
            "sparse_linear {} -> {} ({:.1}% dense{})",
            self.w.cols(),
            self.w.rows(),
            100.0 * self.w.density(),
            if self.relu { ", relu" } else { "" }
        )
    }
}
