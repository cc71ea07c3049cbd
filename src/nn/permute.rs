//! STUB: channels-last to channels-first permutation (being written).
use super::{Layer, Mode};

/// Reorders each sample from `[h, w, c]` to `[c, h, w]`.
pub struct Permute {
    h: usize,
    w: usize,
    c: usize,
}

impl Permute {
    /// Permutation for `h x w x c` samples.
    pub fn nhwc_to_nchw(h: usize, w: usize, c: usize) -> Self {
        Permute { h, w, c }
    }
}

impl Layer for Permute {
    fn kind(&self) -> &'static str {
        "permute"
    }
    fn in_len(&self) -> usize {
        self.h * self.w * self.c
    }
    fn out_len(&self) -> usize {
        self.h * self.w * self.c
    }
    fn forward(&mut self, _x: &[f32], _y: &mut [f32], _batch: usize, _mode: Mode) {
        todo!()
    }
    fn backward(
        &mut self,
        _x: &[f32],
        _y: &[f32],
        _dy: &[f32],
        _dx: Option<&mut [f32]>,
        _batch: usize,
        _pg: bool,
    ) {
        todo!()
    }
}
