//! The sparse x dense products, on feature-major panels of samples.
//!
//! A panel holds `L` samples (16 to 128 by the batch size, see [`lanes`])
//! feature-major: `xt[i * L + l]` is input `i` of the panel's sample `l`.
//! Each stored weight `(i, w)` of output `o` then adds `w * xt[i*L..][..L]`
//! to `L` accumulators at once, a few wide vector FMAs per weight, with two
//! accumulator sets so consecutive FMAs do not wait on each other. Bias and
//! ReLU are applied when the accumulators are stored.
//!
//! The kernel body is one generic function compiled three times: for
//! AVX-512 and for AVX2+FMA (with `#[target_feature]`, chosen at run time
//! by [`level`]) and portably (any architecture, e.g. aarch64), so the
//! shipped binary needs no `-C target-cpu=native`.

use super::csr::Csr;
use crate::nn::Buffer;
use rayon::prelude::*;
use std::ops::Range;
use std::sync::OnceLock;

/// Which instruction set the kernels use, detected once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// AVX-512F (+VL, FMA).
    Avx512,
    /// AVX2 + FMA.
    Avx2,
    /// Whatever the compile target guarantees.
    Portable,
}

/// The best level this CPU supports (`PARANA_SIMD=portable|avx2` caps it,
/// for testing the other paths).
pub fn level() -> Level {
    static L: OnceLock<Level> = OnceLock::new();
    *L.get_or_init(|| {
        let cap = std::env::var("PARANA_SIMD").unwrap_or_default();
        if cap == "portable" {
            return Level::Portable;
        }
        #[cfg(target_arch = "x86_64")]
        {
            if cap != "avx2"
                && is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("fma")
            {
                return Level::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Level::Avx2;
            }
        }
        Level::Portable
    })
}

/// Inputs per column tile: a tile of a 64-sample panel is 32 KiB, so it
/// stays in L1 while every output neuron's weights on it are applied (a
/// 128-sample panel's tile, 64 KiB, half spills to L2, which measured no
/// slower than 64-input tiles with twice the row-tile overhead).
pub const TILE: usize = 128;

/// Inputs per column tile of matrices wider than [`WIDE`]: with 128-input
/// tiles, every tile pass streams the whole output panel (1500 rows x 256
/// bytes for the decoupled CNN's first fully connected layer) through L2,
/// 123 passes per panel; 2048-input tiles (512 KiB, in L2) cut that to 8
/// and measured 1.4x faster on that 15680-input layer, while narrower
/// matrices are fastest with L1 tiles.
pub const WIDE_TILE: usize = 2048;
/// Matrices with more inputs than this use [`WIDE_TILE`].
pub const WIDE: usize = 4096;

/// Where each row's weights cross column tile boundaries: `bounds[o * (nt
/// + 1) + t]` is the first stored weight of row `o` at column `>= t * TILE`
/// (`nt` tiles; the last entry of a row is its end).
pub struct Tiles {
    nt: usize,
    bounds: Vec<usize>,
    /// Tiles are [`WIDE_TILE`] inputs (else [`TILE`]).
    wide: bool,
}

impl Tiles {
    /// The tile boundaries of `w`.
    pub fn new(w: &Csr) -> Tiles {
        // Tiles pay off when each row has a few weights per tile; for
        // banded matrices (decoupled convolutions: a few taps per row over
        // thousands of columns) most row-tiles would be empty, and their
        // bounds alone outweigh the work, so those run untiled.
        // Banded is told by the rows' spans (first to last input): a
        // decoupled convolution's rows each span a few image rows.
        let (ptr, idx) = (w.ptr(), w.idx());
        let (mut span, mut used) = (0usize, 0usize);
        for o in (0..w.rows()).filter(|&o| ptr[o + 1] > ptr[o]) {
            span += (idx[ptr[o + 1] - 1] - idx[ptr[o]]) as usize + 1;
            used += 1;
        }
        let banded = 2 * span < w.cols() * used;
        let tile = if w.cols() > WIDE { WIDE_TILE } else { TILE };
        let nt = w.cols().div_ceil(tile).max(1);
        let per_row = w.nnz() / w.rows().max(1);
        let nt = if per_row >= 2 * nt && !banded { nt } else { 1 };
        let mut bounds = Vec::with_capacity(w.rows() * (nt + 1));
        for o in 0..w.rows() {
            let (s, e) = (ptr[o], ptr[o + 1]);
            let mut j = s;
            for t in 0..nt {
                bounds.push(j);
                let end = if t + 1 == nt {
                    usize::MAX
                } else {
                    (t + 1) * tile
                };
                while j < e && (idx[j] as usize) < end {
                    j += 1;
                }
            }
            bounds.push(e);
        }
        Tiles {
            nt,
            bounds,
            wide: w.cols() > WIDE,
        }
    }
}

/// How many consecutive [`TILE`]-wide tiles an `L`-sample panel takes as
/// one: a tile of the panel is then 64 KiB at any `L` (128 inputs of a
/// 128-sample panel, 512 of a 32-sample one). Narrow panels thus pay the
/// per-tile cost of each row (reloading its partial sums, the loop exit)
/// less often: at batch 32 on the 90% MLP, 512-input tiles were 1.3x
/// faster than 128-input ones. Wide tiles are in L2 already and not merged.
fn merge(tiles: &Tiles, lanes: usize) -> usize {
    if tiles.wide { 1 } else { (128 / lanes).max(1) }
}

/// What one call of the row kernel works on.
struct Rows<'a> {
    idx: &'a [u32],
    val: &'a [f32],
    tiles: &'a Tiles,
    bias: &'a [f32],
    relu: bool,
    /// Output neurons to compute.
    rows: Range<usize>,
    /// One input panel, `cols * L`.
    xt: &'a [f32],
    /// Their outputs, `rows.len() * L`.
    yt: &'a mut [f32],
    /// Consecutive tiles taken as one (see [`merge`]).
    merge: usize,
}

#[inline(always)]
fn madd<const FMA: bool>(w: f32, x: f32, a: f32) -> f32 {
    if FMA { w.mul_add(x, a) } else { a + w * x }
}

/// Tile by tile, every row's weights on that tile; the partial sums wait
/// in `yt` between tiles.
///
/// # Safety
/// `tiles` was built from the validated CSR whose `idx`, `val` these are,
/// `xt.len() >= cols * L`, `yt.len() >= rows.len() * L`, and the rows are
/// within the matrix and the bias.
#[inline(always)]
unsafe fn rows_generic<const L: usize, const FMA: bool>(a: Rows<'_>) {
    let xt = a.xt.as_ptr();
    let (nt, tb) = (a.tiles.nt, &a.tiles.bounds);
    // SAFETY (whole body): guaranteed by the caller, see above.
    unsafe {
        let (m, ntm) = (a.merge, nt.div_ceil(a.merge));
        for t in 0..ntm {
            let (first, last) = (t == 0, t + 1 == ntm);
            for (k, o) in a.rows.clone().enumerate() {
                let s = *tb.get_unchecked(o * (nt + 1) + t * m);
                let e = *tb.get_unchecked(o * (nt + 1) + ((t + 1) * m).min(nt));
                if s == e && !first && !last {
                    continue;
                }
                let out = &mut *(a.yt.as_mut_ptr().add(k * L) as *mut [f32; L]);
                let mut a0 = if first { [0.0f32; L] } else { *out };
                let mut a1 = [0.0f32; L];
                let mut j = s;
                while j + 1 < e {
                    let i0 = *a.idx.get_unchecked(j) as usize;
                    let i1 = *a.idx.get_unchecked(j + 1) as usize;
                    let (w0, w1) = (*a.val.get_unchecked(j), *a.val.get_unchecked(j + 1));
                    let x0 = &*(xt.add(i0 * L) as *const [f32; L]);
                    let x1 = &*(xt.add(i1 * L) as *const [f32; L]);
                    for l in 0..L {
                        a0[l] = madd::<FMA>(w0, x0[l], a0[l]);
                        a1[l] = madd::<FMA>(w1, x1[l], a1[l]);
                    }
                    j += 2;
                }
                if j < e {
                    let i0 = *a.idx.get_unchecked(j) as usize;
                    let w0 = *a.val.get_unchecked(j);
                    let x0 = &*(xt.add(i0 * L) as *const [f32; L]);
                    for l in 0..L {
                        a0[l] = madd::<FMA>(w0, x0[l], a0[l]);
                    }
                }
                if !last {
                    for l in 0..L {
                        out[l] = a0[l] + a1[l];
                    }
                    continue;
                }
                let b = *a.bias.get_unchecked(o);
                if a.relu {
                    for l in 0..L {
                        out[l] = (a0[l] + a1[l] + b).max(0.0);
                    }
                } else {
                    for l in 0..L {
                        out[l] = a0[l] + a1[l] + b;
                    }
                }
            }
        }
    }
}

/// AVX-512 with explicit intrinsics: LLVM's auto-vectoriser picks 128-bit
/// vectors for 16-lane panels, so the lanes are spelled out as `L / 16`
/// zmm registers, two accumulator sets for independent FMA chains.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
#[allow(clippy::needless_range_loop)]
unsafe fn rows_avx512<const L: usize>(a: Rows<'_>) {
    use std::arch::x86_64::*;
    let v = L / 16;
    let xt = a.xt.as_ptr();
    let (nt, tb) = (a.tiles.nt, &a.tiles.bounds);
    // SAFETY (whole body): guaranteed by the caller of `rows_dispatch`.
    unsafe {
        let zero = _mm512_setzero_ps();
        let (m, ntm) = (a.merge, nt.div_ceil(a.merge));
        for t in 0..ntm {
            let (first, last) = (t == 0, t + 1 == ntm);
            for (k, o) in a.rows.clone().enumerate() {
                let s = *tb.get_unchecked(o * (nt + 1) + t * m);
                let e = *tb.get_unchecked(o * (nt + 1) + ((t + 1) * m).min(nt));
                if s == e && !first && !last {
                    continue;
                }
                let out = a.yt.as_mut_ptr().add(k * L);
                let mut a0 = [zero; 8];
                let mut a1 = [zero; 8];
                if !first {
                    for q in 0..v {
                        a0[q] = _mm512_loadu_ps(out.add(16 * q));
                    }
                }
                let mut j = s;
                while j + 1 < e {
                    let x0 = xt.add(*a.idx.get_unchecked(j) as usize * L);
                    let x1 = xt.add(*a.idx.get_unchecked(j + 1) as usize * L);
                    let w0 = _mm512_set1_ps(*a.val.get_unchecked(j));
                    let w1 = _mm512_set1_ps(*a.val.get_unchecked(j + 1));
                    for q in 0..v {
                        a0[q] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x0.add(16 * q)), a0[q]);
                        a1[q] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x1.add(16 * q)), a1[q]);
                    }
                    j += 2;
                }
                if j < e {
                    let x0 = xt.add(*a.idx.get_unchecked(j) as usize * L);
                    let w0 = _mm512_set1_ps(*a.val.get_unchecked(j));
                    for q in 0..v {
                        a0[q] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x0.add(16 * q)), a0[q]);
                    }
                }
                let b = _mm512_set1_ps(if last { *a.bias.get_unchecked(o) } else { 0.0 });
                for q in 0..v {
                    let mut r = _mm512_add_ps(_mm512_add_ps(a0[q], a1[q]), b);
                    if last && a.relu {
                        r = _mm512_max_ps(r, zero);
                    }
                    _mm512_storeu_ps(out.add(16 * q), r);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn rows_avx2<const L: usize>(a: Rows<'_>) {
    // SAFETY: forwarded from the caller.
    unsafe { rows_generic::<L, true>(a) }
}

fn rows_dispatch<const L: usize>(a: Rows<'_>) {
    assert!(a.rows.end * (a.tiles.nt + 1) <= a.tiles.bounds.len());
    assert!(a.merge >= 1);
    assert!(a.rows.end <= a.bias.len());
    assert!(a.yt.len() >= a.rows.len() * L);
    // SAFETY: the CSR parts come from a validated `Csr` and its `Tiles`;
    // callers check its column count against `xt` (`xt.len() >= cols *
    // L`); the asserts above cover rows and outputs. The feature checks of
    // `level()` make the target_feature functions safe to call.
    unsafe {
        match level() {
            #[cfg(target_arch = "x86_64")]
            Level::Avx512 => rows_avx512::<L>(a),
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => rows_avx2::<L>(a),
            _ => rows_generic::<L, false>(a),
        }
    }
}

/// Multiply-adds below which a product on panels runs on one thread: the
/// article MLP's 10x800 output layer at batch 256 (200k) took 0.07 ms on
/// two threads and 0.02 ms on one.
const PAR_MIN_WORK: usize = 1 << 19;
/// The same for the per-sample path (gathers, a few times slower per
/// multiply-add): the 90% MLP's layers (80k-150k weights) are faster on one
/// thread at batch 1, the decoupled CNN's convolutions (250k-340k) on two.
const PAR_MIN_WORK_SAMPLE: usize = 1 << 18;
/// Batches below this use the per-sample path (no panels).
const PANEL_MIN_BATCH: usize = 4;

/// Panel width for a batch: the widest panel that pads the batch by at most
/// an eighth, up to 128 samples with AVX-512 and 64 otherwise; 16 below 48
/// samples unless 32 fits (a batch of 32 is one panel).
///
/// Wider panels share each weight's index and value loads among more
/// FMAs and make fewer passes over the weights. Measured on the article's
/// networks at 90% sparsity: 128 instead of 64 lanes at batch 256 was 15%
/// faster on the MLP and 7% on the decoupled CNN; 32 instead of 16 at batch
/// 32 was 1.5x faster on both. AVX2's 16 registers cannot hold 128 lanes
/// of accumulators.
fn lanes(batch: usize) -> usize {
    let fits = |l: usize| batch.div_ceil(l) * l <= batch + batch / 8;
    if batch >= 48 {
        if level() == Level::Avx512 && fits(128) {
            128
        } else {
            64
        }
    } else if batch >= 16 && fits(32) {
        32
    } else {
        16
    }
}

/// Whether activations of `batch` samples passed between two sparse layers
/// are kept in panel layout (see [`Layout`]).
pub fn uses_panels(batch: usize) -> bool {
    batch >= PANEL_MIN_BATCH
}

/// How a layer's input and output buffers are laid out. Row-major is
/// `[batch, features]`. Panel layout, used between consecutive sparse
/// layers (when [`uses_panels`]) to skip two transposes, is the kernel's own:
/// panel `p` holds samples `p*L ..` (`n_p = min(L, batch - p*L)` of them)
/// at offset `p * L * features`, as `[features][n_p]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layout {
    /// The input is in panel layout.
    pub in_panels: bool,
    /// The output is in panel layout.
    pub out_panels: bool,
}

/// Scratch buffers of a sparse product, kept by the layer and reused
/// (cache-line aligned, as the kernel's loads want).
#[derive(Default)]
pub struct Scratch {
    xt: Buffer,
    yt: Buffer,
}

/// `y[batch, rows] = act(x[batch, cols] · Wᵀ + bias)` for a sparse `W`.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    w: &Csr,
    tiles: &Tiles,
    bias: &[f32],
    relu: bool,
    x: &[f32],
    y: &mut [f32],
    batch: usize,
    s: &mut Scratch,
    layout: Layout,
) {
    let (rows, cols) = (w.rows(), w.cols());
    assert_eq!(bias.len(), rows);
    let (x, y) = (&x[..batch * cols], &mut y[..batch * rows]);
    if batch == 0 {
        return;
    }
    let min = if uses_panels(batch) {
        PAR_MIN_WORK
    } else {
        PAR_MIN_WORK_SAMPLE
    };
    let par = rayon::current_num_threads() > 1 && w.nnz() * batch >= min;
    if !uses_panels(batch) {
        return per_sample(w, bias, relu, x, y, batch, par);
    }
    match lanes(batch) {
        128 => paneled::<128>(w, tiles, bias, relu, x, y, batch, s, par, layout),
        64 => paneled::<64>(w, tiles, bias, relu, x, y, batch, s, par, layout),
        32 => paneled::<32>(w, tiles, bias, relu, x, y, batch, s, par, layout),
        _ => paneled::<16>(w, tiles, bias, relu, x, y, batch, s, par, layout),
    }
}

/// Small batches: one gathered dot product per output and sample.
fn per_sample(
    w: &Csr,
    bias: &[f32],
    relu: bool,
    x: &[f32],
    y: &mut [f32],
    batch: usize,
    par: bool,
) {
    let (rows, cols) = (w.rows(), w.cols());
    let (ptr, idx, val) = (w.ptr(), w.idx(), w.val());
    let chunk = 64;
    for b in 0..batch {
        let xs = &x[b * cols..(b + 1) * cols];
        let ys = &mut y[b * rows..(b + 1) * rows];
        let run = |(ci, out): (usize, &mut [f32])| {
            for (o, out) in (ci * chunk..).zip(out.iter_mut()) {
                let (s, e) = (ptr[o], ptr[o + 1]);
                let mut acc = [0.0f32; 4];
                let (ii, vv) = (&idx[s..e], &val[s..e]);
                let mut ic = ii.chunks_exact(4);
                let mut vc = vv.chunks_exact(4);
                for (i4, v4) in (&mut ic).zip(&mut vc) {
                    for t in 0..4 {
                        acc[t] += v4[t] * xs[i4[t] as usize];
                    }
                }
                let mut sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
                for (&i, &v) in ic.remainder().iter().zip(vc.remainder()) {
                    sum += v * xs[i as usize];
                }
                let v = sum + bias[o];
                *out = if relu { v.max(0.0) } else { v };
            }
        };
        if par {
            ys.par_chunks_mut(chunk).enumerate().for_each(run);
        } else {
            ys.chunks_mut(chunk).enumerate().for_each(run);
        }
    }
}

/// Features per block of the transposes: the written lines stay in L1.
const TB: usize = 16;

/// Fill padded panel `p` (`[len][L]`) from `src` in either layout.
fn pack<const L: usize>(
    src: &[f32],
    len: usize,
    batch: usize,
    panels: bool,
    p: usize,
    pan: &mut [f32],
) {
    let n = L.min(batch - p * L);
    if panels {
        let blk = &src[p * L * len..][..len * n];
        if n == L {
            pan.copy_from_slice(blk);
        } else {
            pan.fill(0.0);
            for (i, r) in blk.chunks_exact(n).enumerate() {
                pan[i * L..i * L + n].copy_from_slice(r);
            }
        }
        return;
    }
    if n < L {
        pan.fill(0.0);
    }
    for i0 in (0..len).step_by(TB) {
        let i1 = (i0 + TB).min(len);
        for l in 0..n {
            let xs = &src[(p * L + l) * len + i0..(p * L + l) * len + i1];
            for (i, &v) in (i0..i1).zip(xs) {
                pan[i * L + l] = v;
            }
        }
    }
}

/// Write padded panel `pan` (`[len][L]`) into `dst` (the samples of panel
/// `p` only, `dst` being that panel's part) in either layout.
fn unpack<const L: usize>(pan: &[f32], len: usize, n: usize, panels: bool, dst: &mut [f32]) {
    if panels {
        if n == L {
            dst.copy_from_slice(&pan[..len * L]);
        } else {
            for (i, r) in dst.chunks_exact_mut(n).enumerate() {
                r.copy_from_slice(&pan[i * L..i * L + n]);
            }
        }
        return;
    }
    for o0 in (0..len).step_by(TB) {
        let o1 = (o0 + TB).min(len);
        for l in 0..n {
            let yrow = &mut dst[l * len + o0..l * len + o1];
            for (o, v) in (o0..o1).zip(yrow) {
                *v = pan[o * L + l];
            }
        }
    }
}

/// Panels of `L` samples: pack in, sparse product per panel, unpack out.
/// Panels are split across threads when there are several; a single
/// panel's output neurons are split otherwise. Full panels already in
/// panel layout are read and written in place (only a last, partial panel
/// goes through the scratch buffers), so a chunk of 2000 samples between
/// two sparse layers is not copied.
#[allow(clippy::too_many_arguments)]
fn paneled<const L: usize>(
    w: &Csr,
    tiles: &Tiles,
    bias: &[f32],
    relu: bool,
    x: &[f32],
    y: &mut [f32],
    batch: usize,
    s: &mut Scratch,
    par: bool,
    layout: Layout,
) {
    let (rows, cols) = (w.rows(), w.cols());
    let panels = batch.div_ceil(L);
    let full = batch / L;
    let direct_in = |p: usize| layout.in_panels && p < full;
    let direct_out = |p: usize| layout.out_panels && p < full;
    let threads = rayon::current_num_threads();
    if (0..panels).any(|p| !direct_in(p)) {
        s.xt.resize(panels * cols * L, 0.0);
        let fill = |(p, pan): (usize, &mut [f32])| {
            if !direct_in(p) {
                pack::<L>(x, cols, batch, layout.in_panels, p, pan)
            }
        };
        let xt = &mut s.xt[..panels * cols * L];
        if par {
            xt.par_chunks_mut(cols * L).enumerate().for_each(fill);
        } else {
            xt.chunks_mut(cols * L).enumerate().for_each(fill);
        }
    }
    let any_scratch_out = (0..panels).any(|p| !direct_out(p));
    if any_scratch_out {
        s.yt.resize(panels * rows * L, 0.0);
    }
    // Each panel's input and output: in place or in the scratch buffers.
    let xs: Vec<&[f32]> = (0..panels)
        .map(|p| {
            if direct_in(p) {
                &x[p * L * cols..(p + 1) * L * cols]
            } else {
                &s.xt[p * cols * L..(p + 1) * cols * L]
            }
        })
        .collect();
    let mut ys: Vec<&mut [f32]> = Vec::with_capacity(panels);
    {
        let mut scratch = s.yt.chunks_mut(rows * L);
        for (p, yc) in y.chunks_mut(L * rows).enumerate() {
            let t = if any_scratch_out {
                scratch.next()
            } else {
                None
            };
            ys.push(match t {
                Some(t) if !direct_out(p) => t,
                _ => yc,
            });
        }
    }
    let (idx, val) = (w.idx(), w.val());
    assert_eq!(tiles.bounds.len(), rows * (tiles.nt + 1));
    let run = |xp: &[f32], yp: &mut [f32], r: Range<usize>| {
        assert!(xp.len() >= cols * L);
        rows_dispatch::<L>(Rows {
            tiles,
            idx,
            val,
            bias,
            relu,
            rows: r,
            xt: xp,
            yt: yp,
            merge: merge(tiles, L),
        })
    };
    if !par {
        for (xp, yp) in xs.into_iter().zip(ys) {
            run(xp, yp, 0..rows);
        }
    } else {
        // Split each panel's outputs so there are a few tasks per thread.
        let splits = (2 * threads).div_ceil(panels).max(1);
        let per = rows.div_ceil(splits).max(1);
        ys.into_par_iter()
            .zip(xs.into_par_iter())
            .for_each(|(yp, xp)| {
                yp.par_chunks_mut(per * L).enumerate().for_each(|(c, yc)| {
                    let start = c * per;
                    run(xp, yc, start..(start + per).min(rows));
                })
            });
    }
    if !any_scratch_out {
        return;
    }
    let yt: &[f32] = &s.yt[..panels * rows * L];
    let back = |(p, ys): (usize, &mut [f32])| {
        if direct_out(p) {
            return;
        }
        let n = ys.len() / rows;
        unpack::<L>(
            &yt[p * rows * L..][..rows * L],
            rows,
            n,
            layout.out_panels,
            ys,
        )
    };
    if par {
        y.par_chunks_mut(L * rows).enumerate().for_each(back);
    } else {
        y.chunks_mut(L * rows).enumerate().for_each(back);
    }
}

/// `batch` samples of `len` features in panel layout, as row-major.
pub fn panels_to_rows(src: &[f32], len: usize, batch: usize) -> Vec<f32> {
    let l = lanes(batch);
    let mut out = vec![0.0; batch * len];
    for s in 0..batch {
        let (p, k) = (s / l, s % l);
        let n = l.min(batch - p * l);
        for f in 0..len {
            out[s * len + f] = src[p * l * len + f * n + k];
        }
    }
    out
}

/// Row-major `rows` into panel layout in `dst`.
pub fn rows_to_panels(rows: &[f32], len: usize, batch: usize, dst: &mut [f32]) {
    let l = lanes(batch);
    for s in 0..batch {
        let (p, k) = (s / l, s % l);
        let n = l.min(batch - p * l);
        for f in 0..len {
            dst[p * l * len + f * n + k] = rows[s * len + f];
        }
    }
}

/// `dx[batch, cols] = (dy ⊙ relu'(y)) · W` for a sparse `W` (`relu'` only
/// when the layer applies ReLU).
pub fn backward_input(w: &Csr, relu: bool, y: &[f32], dy: &[f32], dx: &mut [f32], batch: usize) {
    let (rows, cols) = (w.rows(), w.cols());
    let (y, dy, dx) = (
        &y[..batch * rows],
        &dy[..batch * rows],
        &mut dx[..batch * cols],
    );
    let one = |((dxs, dys), ys): ((&mut [f32], &[f32]), &[f32])| {
        dxs.fill(0.0);
        for o in 0..rows {
            let g = dys[o];
            if g == 0.0 || (relu && ys[o] <= 0.0) {
                continue;
            }
            for (c, v) in w.row(o) {
                dxs[c] += g * v;
            }
        }
    };
    if rayon::current_num_threads() > 1 && w.nnz() * batch >= PAR_MIN_WORK {
        dx.par_chunks_mut(cols)
            .zip(dy.par_chunks(rows))
            .zip(y.par_chunks(rows))
            .for_each(one);
    } else {
        dx.chunks_mut(cols)
            .zip(dy.chunks(rows))
            .zip(y.chunks(rows))
            .for_each(one);
    }
}
