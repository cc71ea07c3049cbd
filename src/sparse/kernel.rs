//! The sparse x dense products, on feature-major panels of samples.
//!
//! A panel holds `L` samples (64 for large batches, 16 for small ones)
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

/// What one call of the row kernel works on.
struct Rows<'a> {
    ptr: &'a [usize],
    idx: &'a [u32],
    val: &'a [f32],
    bias: &'a [f32],
    relu: bool,
    /// Output neurons to compute.
    rows: Range<usize>,
    /// One input panel, `cols * L`.
    xt: &'a [f32],
    /// Their outputs, `rows.len() * L`.
    yt: &'a mut [f32],
}

#[inline(always)]
fn madd<const FMA: bool>(w: f32, x: f32, a: f32) -> f32 {
    if FMA { w.mul_add(x, a) } else { a + w * x }
}

/// # Safety
/// The CSR parts are valid (see [`Csr::new`]) for `cols` columns,
/// `xt.len() >= cols * L`, `yt.len() >= rows.len() * L`, and the rows are
/// within the matrix and the bias.
#[inline(always)]
unsafe fn rows_generic<const L: usize, const FMA: bool>(a: Rows<'_>) {
    let xt = a.xt.as_ptr();
    for (k, o) in a.rows.clone().enumerate() {
        let mut a0 = [0.0f32; L];
        let mut a1 = [0.0f32; L];
        // SAFETY (whole block): guaranteed by the caller, see above.
        unsafe {
            let (s, e) = (*a.ptr.get_unchecked(o), *a.ptr.get_unchecked(o + 1));
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
            let b = *a.bias.get_unchecked(o);
            let out = &mut *(a.yt.as_mut_ptr().add(k * L) as *mut [f32; L]);
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn rows_avx512<const L: usize>(a: Rows<'_>) {
    // SAFETY: forwarded from the caller.
    unsafe { rows_generic::<L, true>(a) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn rows_avx2<const L: usize>(a: Rows<'_>) {
    // SAFETY: forwarded from the caller.
    unsafe { rows_generic::<L, true>(a) }
}

fn rows_dispatch<const L: usize>(a: Rows<'_>) {
    assert!(a.rows.end <= a.ptr.len() - 1 && a.rows.end <= a.bias.len());
    assert!(a.yt.len() >= a.rows.len() * L);
    // SAFETY: the CSR parts come from a validated `Csr` whose column count
    // the callers check against `xt` (`xt.len() >= cols * L`); the asserts
    // above cover rows and outputs. The feature checks of `level()` make
    // the target_feature functions safe to call.
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

/// Multiply-adds below which a product runs on one thread.
const PAR_MIN_WORK: usize = 1 << 17;
/// Batches below this use the per-sample path (no panels).
const PANEL_MIN_BATCH: usize = 4;

/// Panel width for a batch.
fn lanes(batch: usize) -> usize {
    if batch >= 48 { 64 } else { 16 }
}

/// Scratch buffers of a sparse product, kept by the layer and reused.
#[derive(Default)]
pub struct Scratch {
    xt: Vec<f32>,
    yt: Vec<f32>,
}

/// `y[batch, rows] = act(x[batch, cols] · Wᵀ + bias)` for a sparse `W`.
pub fn forward(
    w: &Csr,
    bias: &[f32],
    relu: bool,
    x: &[f32],
    y: &mut [f32],
    batch: usize,
    s: &mut Scratch,
) {
    let (rows, cols) = (w.rows(), w.cols());
    assert_eq!(bias.len(), rows);
    let (x, y) = (&x[..batch * cols], &mut y[..batch * rows]);
    if batch == 0 {
        return;
    }
    let par = rayon::current_num_threads() > 1 && w.nnz() * batch >= PAR_MIN_WORK;
    if batch < PANEL_MIN_BATCH {
        return per_sample(w, bias, relu, x, y, batch, par);
    }
    match lanes(batch) {
        64 => paneled::<64>(w, bias, relu, x, y, batch, s, par),
        _ => paneled::<16>(w, bias, relu, x, y, batch, s, par),
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

/// Panels of `L` samples: transpose in, sparse product per panel, transpose
/// out. Panels are split across threads when there are several; a single
/// panel's output neurons are split otherwise.
#[allow(clippy::too_many_arguments)]
fn paneled<const L: usize>(
    w: &Csr,
    bias: &[f32],
    relu: bool,
    x: &[f32],
    y: &mut [f32],
    batch: usize,
    s: &mut Scratch,
    par: bool,
) {
    let (rows, cols) = (w.rows(), w.cols());
    let panels = batch.div_ceil(L);
    s.xt.resize(panels * cols * L, 0.0);
    s.yt.resize(panels * rows * L, 0.0);
    let xt = &mut s.xt[..panels * cols * L];
    let yt = &mut s.yt[..panels * rows * L];
    // Transpose [batch, cols] into [panel][cols][L], padding with zeros.
    let fill = |(p, pan): (usize, &mut [f32])| {
        let n = L.min(batch - p * L);
        if n < L {
            pan.fill(0.0);
        }
        for l in 0..n {
            let xs = &x[(p * L + l) * cols..][..cols];
            for (i, &v) in xs.iter().enumerate() {
                pan[i * L + l] = v;
            }
        }
    };
    let threads = rayon::current_num_threads();
    if par {
        xt.par_chunks_mut(cols * L).enumerate().for_each(fill);
    } else {
        xt.chunks_mut(cols * L).enumerate().for_each(fill);
    }
    let (ptr, idx, val) = (w.ptr(), w.idx(), w.val());
    let xt: &[f32] = xt;
    let run = |xp: &[f32], yp: &mut [f32], r: Range<usize>| {
        rows_dispatch::<L>(Rows {
            ptr,
            idx,
            val,
            bias,
            relu,
            rows: r,
            xt: xp,
            yt: yp,
        })
    };
    if !par {
        for (xp, yp) in xt.chunks(cols * L).zip(yt.chunks_mut(rows * L)) {
            run(xp, yp, 0..rows);
        }
    } else {
        // Split each panel's outputs so there are a few tasks per thread.
        let splits = (2 * threads).div_ceil(panels).max(1);
        let per = rows.div_ceil(splits).max(1);
        yt.par_chunks_mut(rows * L)
            .zip(xt.par_chunks(cols * L))
            .for_each(|(yp, xp)| {
                yp.par_chunks_mut(per * L).enumerate().for_each(|(c, yc)| {
                    let start = c * per;
                    run(xp, yc, start..(start + per).min(rows));
                })
            });
    }
    // Transpose [panel][rows][L] back into [batch, rows].
    let yt: &[f32] = yt;
    let back = |(p, ys): (usize, &mut [f32])| {
        let pan = &yt[p * rows * L..][..rows * L];
        for (l, yrow) in ys.chunks_exact_mut(rows).enumerate() {
            for (o, v) in yrow.iter_mut().enumerate() {
                *v = pan[o * L + l];
            }
        }
    };
    if par {
        y.par_chunks_mut(L * rows).enumerate().for_each(back);
    } else {
        y.chunks_mut(L * rows).enumerate().for_each(back);
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
