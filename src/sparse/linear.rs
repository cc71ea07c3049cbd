//! [`SparseLinear`]: a fully connected layer whose weights are stored
//! sparse ([`Csr`]), optionally with the following ReLU fused in.
//!
//! It is an inference layer: `backward` computes the input gradient (so
//! adversarial attacks and universal noise train through sparse models)
//! but no weight gradients, and it exposes no trainable parameters. At
//! panel-sized batches the input gradient `dX = (dY ⊙ relu'(Y)) · W` runs
//! as the forward kernel of `Wᵀ` (built once, on the first backward), in
//! the same panel layouts as the forward pass.

use super::csr::Csr;
use super::kernel::{self, Layout, Scratch, Tiles};
use crate::nn::{Layer, Mode};

/// `y = x · Wᵀ + b` (then ReLU when `relu`) with a sparse `W [out, in]`.
pub struct SparseLinear {
    w: Csr,
    tiles: Tiles,
    bias: Vec<f32>,
    relu: bool,
    layout: Layout,
    scratch: Scratch,
    /// `Wᵀ`, its tiles and zero biases, for the input gradient.
    back: Option<(Csr, Tiles, Vec<f32>)>,
    /// Scratch of the backward product: the masked output gradient.
    g: Vec<f32>,
    back_scratch: Scratch,
}

impl SparseLinear {
    /// A layer from a validated matrix and one bias per output.
    pub fn new(w: Csr, bias: Vec<f32>, relu: bool) -> SparseLinear {
        assert_eq!(w.rows(), bias.len(), "one bias per output");
        SparseLinear {
            tiles: Tiles::new(&w),
            w,
            bias,
            relu,
            layout: Layout::default(),
            scratch: Scratch::default(),
            back: None,
            g: Vec::new(),
            back_scratch: Scratch::default(),
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
    /// Keep the input and/or output in the kernel's panel layout: only
    /// between two sparse layers of one network ([`super::sparsify`] sets
    /// it).
    pub fn set_layout(&mut self, layout: Layout) {
        self.layout = layout;
    }

    /// Overwrite the stored weights (same structure) and the biases.
    pub(crate) fn set_values(&mut self, val: &[f32], bias: &[f32]) {
        self.w.val_mut().copy_from_slice(val);
        self.bias.copy_from_slice(bias);
        self.back = None;
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
            &self.tiles,
            &self.bias,
            self.relu,
            x,
            y,
            batch,
            &mut self.scratch,
            self.layout,
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
        let Some(dx) = dx else { return };
        let (o, i) = (self.w.rows(), self.w.cols());
        if !kernel::uses_panels(batch) {
            // Small batches never use panels: one scatter per sample.
            return kernel::backward_input(&self.w, self.relu, y, dy, dx, batch);
        }
        // dY through the ReLU (y and dy share the output's layout, so this
        // is elementwise in either), then the forward kernel of Wᵀ from the
        // output's layout to the input's.
        self.g.clear();
        self.g.extend(
            dy[..batch * o]
                .iter()
                .zip(&y[..batch * o])
                .map(|(&d, &v)| if self.relu && v <= 0.0 { 0.0 } else { d }),
        );
        let (wt, tiles, zero) = self.back.get_or_insert_with(|| {
            let wt = self.w.transpose();
            let tiles = Tiles::new(&wt);
            (wt, tiles, vec![0.0; i])
        });
        kernel::forward(
            wt,
            tiles,
            zero,
            false,
            &self.g,
            dx,
            batch,
            &mut self.back_scratch,
            Layout {
                in_panels: self.layout.out_panels,
                out_panels: self.layout.in_panels,
            },
        );
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
