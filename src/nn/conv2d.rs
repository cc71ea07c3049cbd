//! 2-D convolution layer: stride 1, SAME padding, channels-last (NHWC)
//! activations, computed as im2col + matrix products through `gemm`.
//!
//! Each output position's receptive field becomes one row of a column
//! matrix (`K = kh*kw*in_c` values), so a sample's convolution is the
//! product `col · Wᵀ`, whose `[h*w, out_c]` result already is its NHWC
//! output. Backward forms `dW = dyᵀ · col` from the same columns and
//! scatters `dy · W` back through the inverse mapping (col2im) for `dx`.
//!
//! Work is split per sample, not done as one product over the whole batch:
//! each rayon task builds one sample's columns in a scratch tile (~1 MB,
//! stays in L2) and runs single-threaded products on it. The batch-wide
//! column matrix of the article CNN's 5x5 layer is 60 MB, so one big gemm
//! spends its time streaming memory: measured on the 2-core target machine,
//! the batch-wide version took 2.5x as long for the four layers' forward +
//! backward (86 ms vs 35 ms), and keeping forward's columns for backward
//! instead of rebuilding them per sample cost 1.5x CPU time. Backward
//! therefore rebuilds the columns from `x`, and depends only on its
//! arguments and the current parameters.
//!
//! The stored `weight` keeps PyTorch's `[out_c, in_c, kh, kw]` layout so model
//! files load into `torch.nn.Conv2d` unchanged. Internally the columns use
//! `(i, j, c)` order instead of PyTorch's `(c, i, j)`: with channels-last
//! input, the `kw * in_c` values a row needs from one input row are then one
//! contiguous run, so im2col is `kh` `memcpy`s per row and col2im `kh`
//! vector adds, instead of element-wise gathers (which made im2col ~5x
//! slower). The price is a reordered copy of the weight (a few thousand
//! floats) refreshed at each call, and reordering `dW` back.
//!
//! Gradients are deterministic: every sample's `dW` and `db` go to their own
//! partial buffer, summed afterwards in sample order, so the result does not
//! depend on the thread count or on work stealing.

use std::sync::Mutex;

use rayon::prelude::*;

use super::{Layer, Mode, Param, matmul};

/// Most floats of column rows one task builds and multiplies at a time
/// (1 MiB). Every layer of the article CNN fits one whole 28x28 sample
/// (at most 0.94 MB), which measured fastest: smaller bands keep the tile in
/// cache but shrink the products enough to lose more than they gain. The cap
/// only bounds the scratch for larger images, which are done in bands of
/// output rows.
const BAND_FLOATS: usize = 1 << 18;

/// Geometry of one convolution; `Copy` so the parallel closures can capture
/// it while the layer's scratch buffers are mutably borrowed.
#[derive(Clone, Copy, Debug)]
struct Geom {
    h: usize,
    w: usize,
    in_c: usize,
    out_c: usize,
    kh: usize,
    kw: usize,
    /// Zero rows above the input (`(kh-1)/2`; an even kernel's extra row
    /// goes to the bottom, as in TensorFlow's and PyTorch's `'same'`).
    pad_t: usize,
    /// Zero columns left of the input (`(kw-1)/2`; extra goes right).
    pad_l: usize,
    /// Output rows (of `w` positions each) per band of column rows.
    band: usize,
}

impl Geom {
    /// Length of one column row: `kh * kw * in_c`.
    fn k(&self) -> usize {
        self.kh * self.kw * self.in_c
    }

    /// Width of the zero-padded image.
    fn wp(&self) -> usize {
        self.w + self.kw - 1
    }

    /// Floats in one zero-padded sample: `(h+kh-1) x (w+kw-1) x in_c`.
    fn padded_len(&self) -> usize {
        (self.h + self.kh - 1) * self.wp() * self.in_c
    }

    /// Copy one NHWC sample into the interior of the zero-padded `xp`.
    fn pad(&self, x: &[f32], xp: &mut [f32]) {
        xp.fill(0.0);
        let c = self.in_c;
        for (y, row) in x.chunks_exact(self.w * c).enumerate() {
            let at = ((y + self.pad_t) * self.wp() + self.pad_l) * c;
            xp[at..at + row.len()].copy_from_slice(row);
        }
    }

    /// The inverse of [`Geom::pad`]: copy the interior of `xp` into `x`.
    fn crop(&self, xp: &[f32], x: &mut [f32]) {
        let c = self.in_c;
        for (y, row) in x.chunks_exact_mut(self.w * c).enumerate() {
            let at = ((y + self.pad_t) * self.wp() + self.pad_l) * c;
            row.copy_from_slice(&xp[at..at + row.len()]);
        }
    }

    /// Column rows (`(i, j, c)` order) of output rows `oy0..` of one padded
    /// sample, as many as `col` holds. Thanks to the padding and the
    /// channels-last layout every row is `kh` plain copies of `kw * in_c`
    /// contiguous values.
    fn im2col(&self, xp: &[f32], oy0: usize, col: &mut [f32]) {
        let (c, kwc, wp) = (self.in_c, self.kw * self.in_c, self.wp());
        for (p, row) in col.chunks_exact_mut(self.k()).enumerate() {
            let (oy, ox) = (oy0 + p / self.w, p % self.w);
            for (i, seg) in row.chunks_exact_mut(kwc).enumerate() {
                let at = ((oy + i) * wp + ox) * c;
                seg.copy_from_slice(&xp[at..at + kwc]);
            }
        }
    }

    /// Adjoint of [`Geom::im2col`]: add column-row gradients back onto the
    /// padded positions they were copied from.
    fn col2im(&self, dcol: &[f32], oy0: usize, dxp: &mut [f32]) {
        let (c, kwc, wp) = (self.in_c, self.kw * self.in_c, self.wp());
        for (p, row) in dcol.chunks_exact(self.k()).enumerate() {
            let (oy, ox) = (oy0 + p / self.w, p % self.w);
            for (i, seg) in row.chunks_exact(kwc).enumerate() {
                let at = ((oy + i) * wp + ox) * c;
                for (d, s) in dxp[at..at + kwc].iter_mut().zip(seg) {
                    *d += s;
                }
            }
        }
    }

    /// Output row ranges `oy0..oy1` of the bands of one sample.
    fn bands(&self) -> impl Iterator<Item = (usize, usize)> + use<> {
        let (h, b) = (self.h, self.band);
        (0..h).step_by(b).map(move |oy0| (oy0, (oy0 + b).min(h)))
    }
}

/// Scratch for one running task: a band of column rows and a padded sample.
struct Tile {
    col: Vec<f32>,
    xp: Vec<f32>,
}

/// Tiles shared by the parallel tasks of one call: a task takes one, uses it
/// and puts it back, so after the first call there are as many tiles as
/// tasks ever ran at once and nothing more is allocated.
struct TilePool {
    free: Mutex<Vec<Tile>>,
    col_len: usize,
    xp_len: usize,
}

impl TilePool {
    fn new(g: &Geom) -> Self {
        TilePool {
            free: Mutex::new(Vec::new()),
            col_len: g.band * g.w * g.k(),
            xp_len: g.padded_len(),
        }
    }

    /// Run `f` with a tile to itself.
    fn with<R>(&self, f: impl FnOnce(&mut Tile) -> R) -> R {
        // A poisoned lock only means another task panicked; the tiles are
        // plain scratch and still usable.
        let tile = self.free.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut tile = tile.unwrap_or_else(|| Tile {
            col: vec![0.0; self.col_len],
            xp: vec![0.0; self.xp_len],
        });
        let r = f(&mut tile);
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tile);
        r
    }
}

/// 2-D convolution, stride 1, SAME padding, channels-last activations.
///
/// Params: `weight` `[out_c, in_c, kh, kw]` (decayed) and `bias` `[out_c]`
/// (not decayed), both zero until the model module initialises them.
pub struct Conv2d {
    g: Geom,
    params: Vec<Param>,
    /// `weight` reordered to `[out_c, kh, kw, in_c]` to match the column
    /// order; refreshed from the param at every forward and backward so it
    /// never goes stale after an optimiser step.
    wk: Vec<f32>,
    tiles: TilePool,
    /// Per-sample partial `dW` (internal order) and `db`, summed afterwards
    /// in sample order so the gradients do not depend on thread scheduling.
    dw_part: Vec<f32>,
    db_part: Vec<f32>,
}

/// Threads each per-sample product may use. Parallelism normally comes from
/// running samples side by side with single-threaded products; only a batch
/// smaller than the pool (e.g. one image under attack) leaves threads idle,
/// so then the products get them instead.
fn product_threads(batch: usize) -> usize {
    let threads = matmul::threads();
    if batch < threads { threads } else { 1 }
}

impl Conv2d {
    /// New convolution over `h x w x in_c` inputs with `out_c` filters of `kh x kw`.
    pub fn new(h: usize, w: usize, in_c: usize, out_c: usize, kh: usize, kw: usize) -> Self {
        assert!(
            h > 0 && w > 0 && in_c > 0 && out_c > 0 && kh > 0 && kw > 0,
            "conv2d: every dimension must be positive"
        );
        let band = (BAND_FLOATS / (w * kh * kw * in_c)).clamp(1, h);
        let g = Geom {
            h,
            w,
            in_c,
            out_c,
            kh,
            kw,
            pad_t: (kh - 1) / 2,
            pad_l: (kw - 1) / 2,
            band,
        };
        let n_w = out_c * in_c * kh * kw;
        Conv2d {
            g,
            params: vec![
                Param::new("weight", vec![out_c, in_c, kh, kw], vec![0.0; n_w], true),
                Param::new("bias", vec![out_c], vec![0.0; out_c], false),
            ],
            wk: vec![0.0; n_w],
            tiles: TilePool::new(&g),
            dw_part: Vec::new(),
            db_part: Vec::new(),
        }
    }

    /// Use bands of `rows` output rows, so tests reach the banded path with
    /// small images.
    #[cfg(test)]
    fn set_band_rows(&mut self, rows: usize) {
        self.g.band = rows.clamp(1, self.g.h);
        self.tiles = TilePool::new(&self.g);
    }

    /// Copy `weight` (`[o, c, i, j]`) into `wk` (`[o, i, j, c]`).
    fn refresh_wk(&mut self) {
        let Geom {
            in_c,
            kh,
            kw,
            out_c,
            ..
        } = self.g;
        let w = &self.params[0].value;
        for o in 0..out_c {
            for c in 0..in_c {
                for i in 0..kh {
                    for j in 0..kw {
                        self.wk[((o * kh + i) * kw + j) * in_c + c] =
                            w[((o * in_c + c) * kh + i) * kw + j];
                    }
                }
            }
        }
    }
}

impl Layer for Conv2d {
    fn kind(&self) -> &'static str {
        "conv2d"
    }

    fn in_len(&self) -> usize {
        self.g.h * self.g.w * self.g.in_c
    }

    fn out_len(&self) -> usize {
        self.g.h * self.g.w * self.g.out_c
    }

    fn forward(&mut self, x: &[f32], y: &mut [f32], batch: usize, _mode: Mode) {
        let g = self.g;
        assert_eq!(x.len(), batch * self.in_len(), "conv2d: x length");
        assert_eq!(y.len(), batch * self.out_len(), "conv2d: y length");
        self.refresh_wk();
        let (k, oc) = (g.k(), g.out_c);
        let (wk, bias, tiles) = (&self.wk, &self.params[1].value, &self.tiles);
        let threads = product_threads(batch);
        // One task per sample, each running products on bands of column
        // rows that stay in cache; see the module docs.
        y.par_chunks_mut(self.out_len())
            .zip(x.par_chunks(self.in_len()))
            .for_each(|(y, x)| {
                // Start y at the bias and let the products accumulate onto it.
                for row in y.chunks_exact_mut(oc) {
                    row.copy_from_slice(bias);
                }
                tiles.with(|t| {
                    g.pad(x, &mut t.xp);
                    for (oy0, oy1) in g.bands() {
                        let rows = (oy1 - oy0) * g.w;
                        let col = &mut t.col[..rows * k];
                        g.im2col(&t.xp, oy0, col);
                        let y = &mut y[oy0 * g.w * oc..oy1 * g.w * oc];
                        matmul::nt(rows, oc, k, col, wk, y, true, threads);
                    }
                });
            });
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
        let g = self.g;
        let (k, oc, n_w) = (g.k(), g.out_c, g.out_c * g.k());
        let (in_len, out_len) = (self.in_len(), self.out_len());
        assert_eq!(x.len(), batch * in_len, "conv2d: x length");
        assert_eq!(dy.len(), batch * out_len, "conv2d: dy length");
        if let Some(dx) = &dx {
            assert_eq!(dx.len(), x.len(), "conv2d: dx length");
        }
        let threads = product_threads(batch);
        if param_grads && batch == 0 {
            // Nothing to sum: the gradients of an empty batch are zero.
            self.params.iter_mut().for_each(|p| p.grad.fill(0.0));
        }
        if param_grads && batch > 0 {
            if self.dw_part.len() < batch * n_w {
                self.dw_part.resize(batch * n_w, 0.0);
                self.db_part.resize(batch * oc, 0.0);
            }
            // Per sample: rebuild its columns band by band (cheap and in
            // cache, unlike keeping a whole batch of them from forward) and
            // accumulate dW[o, (i,j,c)] = sum_p dy[p, o] * col[p, (i,j,c)].
            let tiles = &self.tiles;
            self.dw_part[..batch * n_w]
                .par_chunks_mut(n_w)
                .zip(self.db_part[..batch * oc].par_chunks_mut(oc))
                .zip(x.par_chunks(in_len))
                .zip(dy.par_chunks(out_len))
                .for_each(|(((dw, db), x), dy)| {
                    tiles.with(|t| {
                        g.pad(x, &mut t.xp);
                        for (oy0, oy1) in g.bands() {
                            let rows = (oy1 - oy0) * g.w;
                            let col = &mut t.col[..rows * k];
                            g.im2col(&t.xp, oy0, col);
                            let dy = &dy[oy0 * g.w * oc..oy1 * g.w * oc];
                            matmul::tn(oc, k, rows, dy, col, dw, oy0 > 0, threads);
                        }
                    });
                    db.fill(0.0);
                    for row in dy.chunks_exact(oc) {
                        for (d, v) in db.iter_mut().zip(row) {
                            *d += v;
                        }
                    }
                });
            // Sum the partials in sample order, then reorder dW to PyTorch's
            // [o, c, i, j].
            let (first, rest) = self.dw_part[..batch * n_w].split_at_mut(n_w);
            for part in rest.chunks_exact(n_w) {
                for (d, p) in first.iter_mut().zip(part) {
                    *d += p;
                }
            }
            let Geom { in_c, kh, kw, .. } = g;
            let grad = &mut self.params[0].grad;
            for o in 0..oc {
                for c in 0..in_c {
                    for i in 0..kh {
                        for j in 0..kw {
                            grad[((o * in_c + c) * kh + i) * kw + j] =
                                first[((o * kh + i) * kw + j) * in_c + c];
                        }
                    }
                }
            }
            let db = &mut self.params[1].grad;
            db.fill(0.0);
            for part in self.db_part[..batch * oc].chunks_exact(oc) {
                for (d, p) in db.iter_mut().zip(part) {
                    *d += p;
                }
            }
        }
        if let Some(dx) = dx {
            self.refresh_wk();
            let (wk, tiles) = (&self.wk, &self.tiles);
            // Per sample: dcol = dy · W band by band, scattered into a padded
            // dx, whose interior is the sample's dx.
            dx.par_chunks_mut(in_len)
                .zip(dy.par_chunks(out_len))
                .for_each(|(dx, dy)| {
                    tiles.with(|t| {
                        t.xp.fill(0.0);
                        for (oy0, oy1) in g.bands() {
                            let rows = (oy1 - oy0) * g.w;
                            let dcol = &mut t.col[..rows * k];
                            let dy = &dy[oy0 * g.w * oc..oy1 * g.w * oc];
                            matmul::nn(rows, k, oc, dy, wk, dcol, false, threads);
                            g.col2im(dcol, oy0, &mut t.xp);
                        }
                        g.crop(&t.xp, dx);
                    });
                });
        }
    }

    fn params(&self) -> &[Param] {
        &self.params
    }

    fn params_mut(&mut self) -> &mut [Param] {
        &mut self.params
    }

    fn describe(&self) -> String {
        let g = self.g;
        format!(
            "conv2d {}x{}x{} -> {}x{}x{} ({}x{} kernel, same padding)",
            g.h, g.w, g.in_c, g.h, g.w, g.out_c, g.kh, g.kw
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::gradcheck::{self, rand_vec};
    use crate::rng::Rng;

    /// `(h, w, in_c, out_c, kh, kw)`.
    type Dims = (usize, usize, usize, usize, usize, usize);

    /// A layer with random weights and bias.
    fn random_conv(rng: &mut Rng, dims: Dims) -> Conv2d {
        let (h, w, in_c, out_c, kh, kw) = dims;
        let mut conv = Conv2d::new(h, w, in_c, out_c, kh, kw);
        for p in conv.params_mut() {
            p.value = rand_vec(rng, p.len());
        }
        conv
    }

    /// Textbook convolution (cross-correlation, as PyTorch computes it) with
    /// explicit zero padding, NHWC activations and `[o, c, i, j]` weights.
    fn direct(conv: &Conv2d, x: &[f32], batch: usize) -> Vec<f32> {
        let Geom {
            h,
            w,
            in_c,
            out_c,
            kh,
            kw,
            ..
        } = conv.g;
        let (pt, pl) = ((kh - 1) / 2, (kw - 1) / 2);
        let (wt, b) = (&conv.params[0].value, &conv.params[1].value);
        let mut y = vec![0.0; batch * h * w * out_c];
        for n in 0..batch {
            for oy in 0..h {
                for ox in 0..w {
                    for o in 0..out_c {
                        let mut s = b[o] as f64;
                        for c in 0..in_c {
                            for i in 0..kh {
                                for j in 0..kw {
                                    let iy = oy as isize + i as isize - pt as isize;
                                    let ix = ox as isize + j as isize - pl as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    let xi = ((n * h + iy as usize) * w + ix as usize) * in_c + c;
                                    let wi = ((o * in_c + c) * kh + i) * kw + j;
                                    s += x[xi] as f64 * wt[wi] as f64;
                                }
                            }
                        }
                        y[((n * h + oy) * w + ox) * out_c + o] = s as f32;
                    }
                }
            }
        }
        y
    }

    /// (h, w, in_c, out_c, kh, kw) and batch: single channel, in_c > 1,
    /// kh != kw, even kernels, 1x1, a kernel larger than the image, and the
    /// article's first layer.
    const SHAPES: &[(Dims, usize)] = &[
        ((5, 6, 1, 2, 3, 3), 1),
        ((4, 5, 3, 4, 3, 2), 2),
        ((6, 5, 2, 3, 4, 4), 3),
        ((5, 5, 2, 3, 2, 3), 2),
        ((7, 7, 3, 5, 1, 1), 2),
        ((3, 4, 2, 2, 5, 7), 2),
        ((28, 28, 1, 12, 7, 7), 2),
    ];

    fn assert_all_close(got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "[{i}]: got {g}, want {w}"
            );
        }
    }

    #[test]
    fn forward_matches_direct_convolution() {
        let mut rng = Rng::new(1);
        for &(dims, batch) in SHAPES {
            let mut conv = random_conv(&mut rng, dims);
            let x = rand_vec(&mut rng, batch * conv.in_len());
            let want = direct(&conv, &x, batch);
            // Whole samples (what these sizes get by default), then bands
            // of 1 and 2 output rows, the path larger images take.
            for band in [None, Some(1), Some(2)] {
                if let Some(rows) = band {
                    conv.set_band_rows(rows);
                }
                let mut y = vec![f32::NAN; batch * conv.out_len()];
                conv.forward(&x, &mut y, batch, Mode::Eval);
                assert_all_close(&y, &want, 1e-5);
            }
        }
    }

    #[test]
    fn even_kernel_padding_matches_pytorch_same() {
        // Fixture from torch.nn.functional.conv2d(x, w, padding='same') with
        // x = arange(1, 13) as 1x1x3x4 and w = [[1,2,4,8],[16,32,64,128]] as
        // 1x1x2x4: pins the extra padding of even kernels to bottom/right
        // independently of the reference above, which shares our formula.
        let mut conv = Conv2d::new(3, 4, 1, 1, 2, 4);
        conv.params_mut()[0].value = vec![1., 2., 4., 8., 16., 32., 64., 128.];
        let x: Vec<f32> = (1..=12).map(|v| v as f32).collect();
        let mut y = vec![0.0; 12];
        conv.forward(&x, &mut y, 1, Mode::Eval);
        let want = [
            1474., 1793., 856., 379., 2426., 2813., 1332., 583., 146., 169., 80., 35.,
        ];
        assert_eq!(y, want);
    }

    #[test]
    fn scratch_reuse_across_batch_sizes_gives_per_sample_results() {
        // A large batch first sizes the scratch; later smaller batches must
        // not see stale columns, and each sample must be independent.
        let mut rng = Rng::new(2);
        let mut conv = random_conv(&mut rng, (6, 5, 2, 3, 3, 3));
        let batch = 4;
        let x = rand_vec(&mut rng, batch * conv.in_len());
        let mut y = vec![0.0; batch * conv.out_len()];
        conv.forward(&x, &mut y, batch, Mode::Eval);
        for (xs, ys) in x.chunks(conv.in_len()).zip(y.chunks(conv.out_len())).rev() {
            let mut y1 = vec![0.0; conv.out_len()];
            conv.forward(xs, &mut y1, 1, Mode::Eval);
            // Bitwise: each sample is computed on its own in either case.
            assert_eq!(y1, ys);
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = Rng::new(3);
        // (shape, batch, band rows): odd, even and mixed kernels, and the
        // banded path.
        for &(dims, batch, band) in &[
            ((4, 5, 2, 3, 3, 3), 2, None),
            ((4, 4, 3, 2, 2, 3), 2, None),
            ((3, 5, 1, 2, 4, 2), 3, None),
            ((5, 4, 2, 3, 3, 2), 2, Some(2)),
        ] {
            let mut conv = random_conv(&mut rng, dims);
            if let Some(rows) = band {
                conv.set_band_rows(rows);
            }
            let x = rand_vec(&mut rng, batch * conv.in_len());
            // The layer is linear in x and in the params, so central
            // differences are exact up to f32 rounding.
            gradcheck::check(&mut conv, &x, batch, Mode::Eval, 1e-2, 1e-2, 200);
        }
    }

    /// Exact gradients of `sum(y * dy)` by the textbook loops (in f64):
    /// (dx, weight grad, bias grad), weight grad in PyTorch's layout.
    fn direct_grads(conv: &Conv2d, x: &[f32], dy: &[f32], batch: usize) -> [Vec<f32>; 3] {
        let Geom {
            h,
            w,
            in_c,
            out_c,
            kh,
            kw,
            ..
        } = conv.g;
        let (pt, pl) = ((kh - 1) / 2, (kw - 1) / 2);
        let wt = &conv.params[0].value;
        let mut dx = vec![0.0f64; x.len()];
        let mut dw = vec![0.0f64; wt.len()];
        let mut db = vec![0.0f64; out_c];
        for n in 0..batch {
            for oy in 0..h {
                for ox in 0..w {
                    for o in 0..out_c {
                        let g = dy[((n * h + oy) * w + ox) * out_c + o] as f64;
                        db[o] += g;
                        for c in 0..in_c {
                            for i in 0..kh {
                                for j in 0..kw {
                                    let iy = oy as isize + i as isize - pt as isize;
                                    let ix = ox as isize + j as isize - pl as isize;
                                    if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                        continue;
                                    }
                                    let xi = ((n * h + iy as usize) * w + ix as usize) * in_c + c;
                                    let wi = ((o * in_c + c) * kh + i) * kw + j;
                                    dx[xi] += g * wt[wi] as f64;
                                    dw[wi] += g * x[xi] as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
        let f = |v: Vec<f64>| v.into_iter().map(|a| a as f32).collect();
        [f(dx), f(dw), f(db)]
    }

    #[test]
    fn gradients_match_direct_adjoint() {
        // Tighter than finite differences (which f32 limits to ~1e-2):
        // catches small systematic errors such as a mis-scaled scatter.
        let mut rng = Rng::new(8);
        for &(dims, batch) in SHAPES {
            let mut conv = random_conv(&mut rng, dims);
            let x = rand_vec(&mut rng, batch * conv.in_len());
            let dy = rand_vec(&mut rng, batch * conv.out_len());
            let want = direct_grads(&conv, &x, &dy, batch);
            for band in [None, Some(2)] {
                if let Some(rows) = band {
                    conv.set_band_rows(rows);
                }
                let got = full_backward(&mut conv, &x, &dy, batch);
                for (g, w) in got.iter().zip(&want) {
                    assert_all_close(g, w, 1e-5);
                }
            }
        }
    }

    /// Forward then backward; returns (dx, weight grad, bias grad).
    fn full_backward(conv: &mut Conv2d, x: &[f32], dy: &[f32], batch: usize) -> [Vec<f32>; 3] {
        let mut y = vec![0.0; dy.len()];
        conv.forward(x, &mut y, batch, Mode::Eval);
        let mut dx = vec![f32::NAN; x.len()];
        conv.backward(x, &y, dy, Some(&mut dx), batch, true);
        let p = conv.params();
        [dx, p[0].grad.clone(), p[1].grad.clone()]
    }

    #[test]
    fn backward_without_dx_gives_same_param_grads() {
        let mut rng = Rng::new(4);
        let batch = 3;
        let mut conv = random_conv(&mut rng, (5, 4, 3, 2, 3, 3));
        let x = rand_vec(&mut rng, batch * conv.in_len());
        let dy = rand_vec(&mut rng, batch * conv.out_len());
        let [_, dw, db] = full_backward(&mut conv, &x, &dy, batch);
        assert!(dw.iter().any(|&v| v != 0.0));
        let mut y = vec![0.0; dy.len()];
        conv.forward(&x, &mut y, batch, Mode::Eval);
        conv.params_mut()[0].grad.fill(0.0);
        conv.params_mut()[1].grad.fill(0.0);
        conv.backward(&x, &y, &dy, None, batch, true);
        assert_eq!(conv.params()[0].grad, dw);
        assert_eq!(conv.params()[1].grad, db);
    }

    #[test]
    fn input_only_backward_leaves_param_grads_untouched() {
        let mut rng = Rng::new(5);
        let batch = 2;
        let mut conv = random_conv(&mut rng, (4, 6, 2, 3, 3, 2));
        let x = rand_vec(&mut rng, batch * conv.in_len());
        let dy = rand_vec(&mut rng, batch * conv.out_len());
        let [want_dx, ..] = full_backward(&mut conv, &x, &dy, batch);
        for p in conv.params_mut() {
            p.grad.fill(7.0);
        }
        let mut y = vec![0.0; dy.len()];
        conv.forward(&x, &mut y, batch, Mode::Eval);
        let mut dx = vec![f32::NAN; x.len()];
        conv.backward(&x, &y, &dy, Some(&mut dx), batch, false);
        assert_eq!(dx, want_dx);
        assert!(
            conv.params()
                .iter()
                .all(|p| p.grad.iter().all(|&g| g == 7.0))
        );
    }

    #[test]
    fn backward_after_an_unrelated_forward_uses_its_own_input() {
        // Backward must depend on its own `x`, not on scratch left by the
        // last forward: a forward on other data in between (e.g. an
        // evaluation) must not leak into this input's weight gradient.
        let mut rng = Rng::new(6);
        let batch = 2;
        let mut conv = random_conv(&mut rng, (5, 5, 2, 3, 3, 3));
        let x = rand_vec(&mut rng, batch * conv.in_len());
        let other = rand_vec(&mut rng, batch * conv.in_len());
        let dy = rand_vec(&mut rng, batch * conv.out_len());
        let [dx, dw, db] = full_backward(&mut conv, &x, &dy, batch);
        let mut y = vec![0.0; dy.len()];
        conv.forward(&other, &mut y, batch, Mode::Eval);
        let mut dx2 = vec![0.0; x.len()];
        conv.backward(&x, &y, &dy, Some(&mut dx2), batch, true);
        assert_eq!(dx2, dx);
        assert_eq!(conv.params()[0].grad, dw);
        assert_eq!(conv.params()[1].grad, db);
        // Backward's dx pass overwrote the tiles with dcol; another backward
        // must still see this input's columns.
        conv.backward(&x, &y, &dy, None, batch, true);
        assert_eq!(conv.params()[0].grad, dw);
    }

    #[test]
    fn results_do_not_depend_on_thread_count() {
        // Batch 16 spreads samples over the threads; batch 1 of a larger
        // image hands the threads to the products instead.
        let mut rng = Rng::new(7);
        for (dims, batch) in [((12, 12, 4, 6, 3, 3), 16), ((28, 28, 8, 8, 3, 3), 1)] {
            let mut conv = random_conv(&mut rng, dims);
            let x = rand_vec(&mut rng, batch * conv.in_len());
            let dy = rand_vec(&mut rng, batch * conv.out_len());
            let mut run = |threads: usize| {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| {
                    let mut y = vec![0.0; dy.len()];
                    conv.forward(&x, &mut y, batch, Mode::Eval);
                    (y, full_backward(&mut conv, &x, &dy, batch))
                })
            };
            let one = run(1);
            assert_eq!(run(3), one);
            assert_eq!(run(2), one);
        }
    }

    #[test]
    fn empty_batch_gives_zero_gradients() {
        let mut rng = Rng::new(9);
        let mut conv = random_conv(&mut rng, (4, 4, 2, 3, 3, 3));
        conv.params_mut().iter_mut().for_each(|p| p.grad.fill(7.0));
        conv.forward(&[], &mut [], 0, Mode::Eval);
        conv.backward(&[], &[], &[], Some(&mut []), 0, true);
        assert!(
            conv.params()
                .iter()
                .all(|p| p.grad.iter().all(|&g| g == 0.0))
        );
    }
}
