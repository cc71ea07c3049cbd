//! STUB: 2-D convolution (being written).
use super::{Layer, Mode, Param};

/// 2-D convolution, stride 1, SAME padding, channels-last activations.
pub struct Conv2d {
    params: Vec<Param>,
}

impl Conv2d {
    /// New convolution over `h x w x in_c` inputs with `out_c` filters of `kh x kw`.
    pub fn new(h: usize, w: usize, in_c: usize, out_c: usize, kh: usize, kw: usize) -> Self {
        let _ = (h, w, in_c, out_c, kh, kw);
        todo!()
    }
}

impl Layer for Conv2d {
    fn kind(&self) -> &'static str {
        "conv2d"
    }
    fn in_len(&self) -> usize {
        todo!()
    }
    fn out_len(&self) -> usize {
        todo!()
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
    fn params(&self) -> &[Param] {
        &self.params
    }
    fn params_mut(&mut self) -> &mut [Param] {
        &mut self.params
    }
}
