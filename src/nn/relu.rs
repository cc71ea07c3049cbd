//! Rectified linear unit: `y = max(x, 0)`.

use super::{Layer, Mode};
use rayon::prelude::*;

/// Element count above which the loops run on several threads.
const PAR_MIN: usize = 1 << 16;
const CHUNK: usize = 1 << 14;

/// ReLU over `len` features per sample.
pub struct Relu {
    len: usize,
}

impl Relu {
    /// A ReLU over `len` features.
    pub fn new(len: usize) -> Self {
        Relu { len }
    }
}

fn relu(x: &[f32], y: &mut [f32]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y = x.max(0.0));
}

fn relu_back(y: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((d, &g), &o) in dx.iter_mut().zip(dy).zip(y) {
        *d = if o > 0.0 { g } else { 0.0 };
    }
}

impl Layer for Relu {
    fn kind(&self) -> &'static str {
        "relu"
    }
    fn in_len(&self) -> usize {
        self.len
    }
    fn out_len(&self) -> usize {
        self.len
    }

    fn forward(&mut self, x: &[f32], y: &mut [f32], batch: usize, _mode: Mode) {
        let n = batch * self.len;
        let (x, y) = (&x[..n], &mut y[..n]);
        if n >= PAR_MIN {
            y.par_chunks_mut(CHUNK)
                .zip(x.par_chunks(CHUNK))
                .for_each(|(y, x)| relu(x, y));
        } else {
            relu(x, y);
        }
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
        let n = batch * self.len;
        let (y, dy, dx) = (&y[..n], &dy[..n], &mut dx[..n]);
        if n >= PAR_MIN {
            dx.par_chunks_mut(CHUNK)
                .zip(dy.par_chunks(CHUNK).zip(y.par_chunks(CHUNK)))
                .for_each(|(dx, (dy, y))| relu_back(y, dy, dx));
        } else {
            relu_back(y, dy, dx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::check;

    #[test]
    fn forward_and_backward() {
        let mut l = Relu::new(3);
        let x = [-1.0, 0.5, 2.0, 3.0, -0.25, 0.0];
        let mut y = [9.0; 6];
        l.forward(&x, &mut y, 2, Mode::Eval);
        assert_eq!(y, [0.0, 0.5, 2.0, 3.0, 0.0, 0.0]);
        let mut dx = [9.0; 6];
        l.backward(
            &x,
            &y,
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
            Some(&mut dx),
            2,
            true,
        );
        assert_eq!(dx, [0.0, 2.0, 3.0, 4.0, 0.0, 0.0]);
    }

    #[test]
    fn large_parallel_path_agrees_and_gradcheck() {
        let n = PAR_MIN * 2 + 3;
        let x: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let mut l = Relu::new(n);
        let mut y = vec![0.0; n];
        l.forward(&x, &mut y, 1, Mode::Eval);
        assert!(y.iter().zip(&x).all(|(y, x)| *y == x.max(0.0)));
        // Inputs away from the kink at 0 so finite differences are exact.
        let x = [-0.9, -0.3, 0.4, 0.8, 1.5, -2.0];
        check(&mut Relu::new(3), &x, 2, Mode::Eval, 1e-2, 1e-3, 10);
    }
}
