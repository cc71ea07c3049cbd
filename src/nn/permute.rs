//! Reorders each sample from channels-last `[h, w, c]` (how [`Conv2d`]
//! computes) to channels-first `[c, h, w]` (PyTorch's order), so that the
//! flattened features meet the first fully connected layer in the order a
//! PyTorch model file expects, and back again for the gradient.
//!
//! [`Conv2d`]: super::Conv2d

use rayon::prelude::*;

use super::{Layer, Mode};

/// Below this many floats per call the copy runs on one thread: spreading a
/// few microseconds of work over the pool costs more than it saves.
const PARALLEL_MIN_FLOATS: usize = 1 << 16;

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

    /// Apply `f(src_sample, dst_sample)` to every sample, in parallel when
    /// the batch is large.
    fn per_sample(&self, src: &[f32], dst: &mut [f32], f: impl Fn(&[f32], &mut [f32]) + Sync) {
        let len = self.in_len();
        assert_eq!(src.len(), dst.len(), "permute: length mismatch");
        if len == 0 {
            return;
        }
        if src.len() >= PARALLEL_MIN_FLOATS {
            dst.par_chunks_mut(len)
                .zip(src.par_chunks(len))
                .for_each(|(d, s)| f(s, d));
        } else {
            dst.chunks_mut(len)
                .zip(src.chunks(len))
                .for_each(|(d, s)| f(s, d));
        }
    }
}

/// `dst[c][p] = src[p][c]` for one sample: a `[hw, c]` to `[c, hw]`
/// transpose. Reading `src` in order keeps one input stream and `c` output
/// streams, few enough for the caches to handle without blocking.
fn to_channels_first(src: &[f32], dst: &mut [f32], c: usize) {
    let hw = src.len() / c;
    for (p, px) in src.chunks_exact(c).enumerate() {
        for (ch, &v) in px.iter().enumerate() {
            dst[ch * hw + p] = v;
        }
    }
}

/// The inverse of [`to_channels_first`]: `dst[p][c] = src[c][p]`.
fn to_channels_last(src: &[f32], dst: &mut [f32], c: usize) {
    let hw = src.len() / c;
    for (p, px) in dst.chunks_exact_mut(c).enumerate() {
        for (ch, v) in px.iter_mut().enumerate() {
            *v = src[ch * hw + p];
        }
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

    fn forward(&mut self, x: &[f32], y: &mut [f32], batch: usize, _mode: Mode) {
        assert_eq!(x.len(), batch * self.in_len(), "permute: x length");
        let c = self.c;
        self.per_sample(x, y, |s, d| to_channels_first(s, d, c));
    }

    fn backward(
        &mut self,
        _x: &[f32],
        _y: &[f32],
        dy: &[f32],
        dx: Option<&mut [f32]>,
        batch: usize,
        _param_grads: bool,
    ) {
        assert_eq!(dy.len(), batch * self.out_len(), "permute: dy length");
        // A permutation's gradient is the inverse permutation of dy.
        if let Some(dx) = dx {
            let c = self.c;
            self.per_sample(dy, dx, |s, d| to_channels_last(s, d, c));
        }
    }

    fn describe(&self) -> String {
        format!(
            "permute {}x{}x{} (hwc) -> {}x{}x{} (chw)",
            self.h, self.w, self.c, self.c, self.h, self.w
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{self, rand_vec};
    use crate::rng::Rng;

    #[test]
    fn forward_moves_each_value_to_its_channels_first_index() {
        // Hand-checked: one 1x2 sample with channels a, b, c.
        let mut p = Permute::nhwc_to_nchw(1, 2, 3);
        let x = [1.0, 2.0, 3.0, 10.0, 20.0, 30.0];
        let mut y = [0.0; 6];
        p.forward(&x, &mut y, 1, Mode::Eval);
        assert_eq!(y, [1.0, 10.0, 2.0, 20.0, 3.0, 30.0]);

        // General mapping, non-square, several samples: value = NHWC index.
        let (h, w, c, batch) = (3, 4, 5, 3);
        let mut p = Permute::nhwc_to_nchw(h, w, c);
        let x: Vec<f32> = (0..batch * h * w * c).map(|i| i as f32).collect();
        let mut y = vec![f32::NAN; x.len()];
        p.forward(&x, &mut y, batch, Mode::Eval);
        for n in 0..batch {
            for yy in 0..h {
                for xx in 0..w {
                    for ch in 0..c {
                        let nhwc = ((n * h + yy) * w + xx) * c + ch;
                        let nchw = ((n * c + ch) * h + yy) * w + xx;
                        assert_eq!(y[nchw], nhwc as f32, "n{n} y{yy} x{xx} c{ch}");
                    }
                }
            }
        }
    }

    #[test]
    fn backward_inverts_forward_exactly() {
        let mut rng = Rng::new(1);
        // The article CNN's last conv output; batch 64 takes the parallel
        // path, batch 1 the serial one.
        for batch in [1, 64] {
            let mut p = Permute::nhwc_to_nchw(28, 28, 20);
            let x = rand_vec(&mut rng, batch * p.in_len());
            let mut y = vec![0.0; x.len()];
            p.forward(&x, &mut y, batch, Mode::Eval);
            assert_ne!(y, x);
            let mut back = vec![f32::NAN; x.len()];
            p.backward(&x, &y, &y, Some(&mut back), batch, true);
            assert_eq!(back, x);
        }
    }

    #[test]
    fn parallel_and_serial_paths_agree() {
        let mut rng = Rng::new(2);
        let mut p = Permute::nhwc_to_nchw(7, 6, 5);
        let batch = PARALLEL_MIN_FLOATS / p.in_len() + 1;
        let x = rand_vec(&mut rng, batch * p.in_len());
        let mut y = vec![0.0; x.len()];
        p.forward(&x, &mut y, batch, Mode::Eval);
        for (xs, ys) in x.chunks(p.in_len()).zip(y.chunks(p.in_len())) {
            let mut y1 = vec![0.0; p.in_len()];
            p.forward(xs, &mut y1, 1, Mode::Eval);
            assert_eq!(y1, ys);
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = Rng::new(3);
        let mut p = Permute::nhwc_to_nchw(3, 2, 4);
        let x = rand_vec(&mut rng, 2 * p.in_len());
        gradcheck::check(&mut p, &x, 2, Mode::Eval, 1e-2, 1e-2, 100);
    }
}
