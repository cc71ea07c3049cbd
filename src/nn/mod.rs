//! The compute engine: layers with an explicit forward and backward over
//! plain `f32` buffers.
//!
//! parana does not use a general tensor/autodiff framework: measured on a
//! 2-core machine, candle took 3.8x PyTorch's time for an MLP training step
//! (allocating ops, AdamW as ~13 ops per parameter), while `gemm` alone did
//! all the MLP's products faster than PyTorch's whole step. So each layer
//! type here is one file with its forward, backward and tests, buffers are
//! allocated once per batch size and reused, and Adam is one fused pass.
//!
//! Activations are row-major `[batch, features]`. Convolutional activations
//! are channels-last (`[batch, h, w, c]`); [`Permute`] turns them into
//! PyTorch's channels-first order before the fully connected layers, so
//! model files keep PyTorch's layout.
//!
//! The [`Layer`] trait is the whole interface a backend must provide; see
//! `docs/gpu-backend.md` for how a GPU one would slot in.

pub mod adam;
pub mod buffer;
pub mod conv2d;
pub mod denormals;
pub mod dropout;
pub mod head;
pub mod linear;
pub mod lq;
pub mod matmul;
pub mod permute;
pub mod relu;
pub mod sce;
pub mod sequential;

#[cfg(test)]
pub(crate) mod gradcheck;

pub use adam::Adam;
pub use buffer::Buffer;
pub use conv2d::Conv2d;
pub use denormals::flush_denormals;
pub use dropout::Dropout;
pub use head::Head;
pub use linear::Linear;
pub use permute::Permute;
pub use relu::Relu;
pub use sequential::Sequential;

/// A learnable tensor and its gradient, in PyTorch's layout.
#[derive(Clone, Debug)]
pub struct Param {
    /// `"weight"` or `"bias"`.
    pub name: &'static str,
    /// Shape in PyTorch's layout (e.g. `[out, in]` for a linear weight).
    pub shape: Vec<usize>,
    /// The values.
    pub value: Vec<f32>,
    /// The gradient of the last backward pass (overwritten, not summed).
    pub grad: Vec<f32>,
    /// Whether L2 weight decay applies (weights yes, biases no).
    pub decay: bool,
}

impl Param {
    /// A parameter filled with `value`, gradient zero.
    pub fn new(name: &'static str, shape: Vec<usize>, value: Vec<f32>, decay: bool) -> Self {
        assert_eq!(shape.iter().product::<usize>(), value.len());
        let grad = vec![0.0; value.len()];
        Param {
            name,
            shape,
            value,
            grad,
            decay,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.value.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.value.is_empty()
    }
}

/// Whether a forward pass is for training (dropout active) or inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Inference: dropout is the identity.
    Eval,
    /// Training; `seed` makes this pass's random choices (dropout masks)
    /// reproducible. The network mixes the layer index into it.
    Train { seed: u64 },
}

/// One layer of a network.
///
/// Buffers are owned by the caller: `x` holds `batch * in_len()` inputs and
/// `y` receives `batch * out_len()` outputs. A layer may keep scratch
/// buffers of its own (im2col columns, dropout masks), grown once per batch
/// size and reused.
pub trait Layer: Send {
    /// Short type name, e.g. `"linear"`.
    fn kind(&self) -> &'static str;
    /// Inputs per sample.
    fn in_len(&self) -> usize;
    /// Outputs per sample.
    fn out_len(&self) -> usize;
    /// `y = f(x)`.
    fn forward(&mut self, x: &[f32], y: &mut [f32], batch: usize, mode: Mode);
    /// Given `dy = dL/dy` (and the `x`, `y` of the matching forward), write
    /// `dL/dx` into `dx` when asked and, when `param_grads`, overwrite each
    /// parameter's `grad`. Attacks pass `param_grads = false` and get only
    /// the input gradient.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &mut self,
        x: &[f32],
        y: &[f32],
        dy: &[f32],
        dx: Option<&mut [f32]>,
        batch: usize,
        param_grads: bool,
    );
    /// Learnable parameters (empty for parameter-free layers).
    fn params(&self) -> &[Param] {
        &[]
    }
    /// Learnable parameters, mutable.
    fn params_mut(&mut self) -> &mut [Param] {
        &mut []
    }
    /// `relu(f(x))` in one go, for a layer followed by a ReLU: the caller
    /// skips the ReLU's forward and this layer's own output. Returns false
    /// (having done nothing) if the layer cannot fuse; the default.
    /// Fusing saves the passes over the activations that a separate ReLU
    /// costs (measured ~10% of the article MLP's forward).
    fn forward_relu(&mut self, _x: &[f32], _y: &mut [f32], _batch: usize, _mode: Mode) -> bool {
        false
    }
    /// For a layer storing its weight sparsely (a `[nnz]` parameter, in
    /// CSR order over `[out, in]`): the row pointers (`out + 1`) and the
    /// input feature of each stored weight. `None` (the default): the
    /// weight is dense, `[out, in, ...]`.
    fn sparse_structure(&self) -> Option<(&[usize], &[u32])> {
        None
    }
    /// One-line description, e.g. `linear 784 -> 1500`.
    fn describe(&self) -> String {
        format!("{} {} -> {}", self.kind(), self.in_len(), self.out_len())
    }
}
