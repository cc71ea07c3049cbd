//! Dense matrix products through the `gemm` crate.
//!
//! `gemm` picks AVX2/AVX-512/NEON kernels at run time, so the shipped binary
//! is fast without `-C target-cpu=native`. All matrices here are row-major
//! `f32` slices; the transposed variants only change strides, nothing is
//! copied.

/// Work below this many multiply-adds runs on one thread: splitting it costs
/// more than it saves.
const PARALLEL_MIN_FLOPS: usize = 1 << 18;

/// How a matrix is laid out in its slice: element (i, j) is at
/// `i * rs + j * cs`.
#[derive(Clone, Copy, Debug)]
struct Strides {
    rs: isize,
    cs: isize,
}

#[allow(clippy::too_many_arguments)]
fn raw(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [f32],
    accumulate: bool,
    a: &[f32],
    sa: Strides,
    b: &[f32],
    sb: Strides,
    threads: usize,
) {
    assert!(dst.len() >= m * n, "matmul: dst too small");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].iter_mut().for_each(|v| *v = 0.0);
        }
        return;
    }
    let last = |s: Strides, r: usize, c: usize| (r - 1) as isize * s.rs + (c - 1) as isize * s.cs;
    assert!(last(sa, m, k) < a.len() as isize, "matmul: lhs too small");
    assert!(last(sb, k, n) < b.len() as isize, "matmul: rhs too small");
    if threads > 1 && m.max(n) >= threads * SPLIT_MIN && m * n * k >= PARALLEL_MIN_FLOPS {
        // One single-threaded product per thread on a block of C: measured
        // ~10-15% faster here than gemm's own threading for the MLP's shapes
        // (no synchronisation inside the product). Split the longer side of
        // C, so each thread packs only its share of the larger operand.
        let by_rows = m >= n;
        let len = if by_rows { m } else { n };
        let block = len.div_ceil(threads);
        let (a_addr, b_addr, d_addr) = (
            a.as_ptr() as usize,
            b.as_ptr() as usize,
            dst.as_mut_ptr() as usize,
        );
        use rayon::prelude::*;
        (0..len.div_ceil(block)).into_par_iter().for_each(|j| {
            let s0 = j * block;
            let size = block.min(len - s0);
            // SAFETY: block j covers rows (or columns) s0..s0+size of C,
            // disjoint from every other block's, and reads the matching rows
            // of A (or columns of B), inside the slices by the asserts above.
            unsafe {
                let d = (d_addr as *mut f32).add(if by_rows { s0 * n } else { s0 });
                let (pa, pb) = (a_addr as *const f32, b_addr as *const f32);
                if by_rows {
                    kernel(
                        size,
                        n,
                        k,
                        d,
                        n,
                        accumulate,
                        pa.offset(s0 as isize * sa.rs),
                        sa,
                        pb,
                        sb,
                        gemm::Parallelism::None,
                    )
                } else {
                    kernel(
                        m,
                        size,
                        k,
                        d,
                        n,
                        accumulate,
                        pa,
                        sa,
                        pb.offset(s0 as isize * sb.cs),
                        sb,
                        gemm::Parallelism::None,
                    )
                }
            }
        });
        return;
    }
    let par = if threads > 1 && m * n * k >= PARALLEL_MIN_FLOPS {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the asserts above keep every index the kernel touches inside
    // the three slices; `dst` is exclusively borrowed and cannot alias them.
    unsafe {
        kernel(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            n,
            accumulate,
            a.as_ptr(),
            sa,
            b.as_ptr(),
            sb,
            par,
        )
    }
}

/// Rows (or columns) of C per thread below which gemm's own threading is
/// used instead of splitting C into blocks.
const SPLIT_MIN: usize = 64;

/// `gemm` on raw pointers with a row-major destination of row stride `drs`.
///
/// # Safety
/// Every element of the `m x k` lhs, `k x n` rhs and `m x n` destination
/// described by the pointers and strides must be valid, the destination
/// exclusively owned.
#[allow(clippy::too_many_arguments)]
unsafe fn kernel(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    drs: usize,
    accumulate: bool,
    a: *const f32,
    sa: Strides,
    b: *const f32,
    sb: Strides,
    par: gemm::Parallelism,
) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            drs as isize,
            accumulate,
            a,
            sa.cs,
            sa.rs,
            b,
            sb.cs,
            sb.rs,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            par,
        );
    }
}

/// Threads to use for one product issued from the top level.
pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// `C[m,n] (+)= A[m,k] · B[k,n]`.
#[allow(clippy::too_many_arguments)]
pub fn nn(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    acc: bool,
    threads: usize,
) {
    let sa = Strides {
        rs: k as isize,
        cs: 1,
    };
    let sb = Strides {
        rs: n as isize,
        cs: 1,
    };
    raw(m, n, k, c, acc, a, sa, b, sb, threads);
}

/// `C[m,n] (+)= A[m,k] · B[n,k]ᵀ` (B stored row-major as `[n, k]`, like a
/// PyTorch `Linear` weight).
#[allow(clippy::too_many_arguments)]
pub fn nt(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    acc: bool,
    threads: usize,
) {
    let sa = Strides {
        rs: k as isize,
        cs: 1,
    };
    let sb = Strides {
        rs: 1,
        cs: k as isize,
    };
    raw(m, n, k, c, acc, a, sa, b, sb, threads);
}

/// `C[m,n] (+)= A[k,m]ᵀ · B[k,n]` (A stored row-major as `[k, m]`).
#[allow(clippy::too_many_arguments)]
pub fn tn(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    acc: bool,
    threads: usize,
) {
    let sa = Strides {
        rs: 1,
        cs: m as isize,
    };
    let sb = Strides {
        rs: n as isize,
        cs: 1,
    };
    raw(m, n, k, c, acc, a, sa, b, sb, threads);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn naive(
        m: usize,
        n: usize,
        k: usize,
        a: impl Fn(usize, usize) -> f32,
        b: impl Fn(usize, usize) -> f32,
    ) -> Vec<f32> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a(i, p) * b(p, j)).sum();
            }
        }
        c
    }

    fn rand_vec(r: &mut Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| r.uniform_f32() - 0.5).collect()
    }

    #[test]
    fn all_three_layouts_match_a_naive_product() {
        let mut r = Rng::new(1);
        for &(m, n, k) in &[
            (1, 1, 1),
            (3, 5, 7),
            (65, 33, 129),
            (250, 100, 40),
            (70, 300, 50),
            (301, 129, 9),
        ] {
            let a = rand_vec(&mut r, m * k);
            let b = rand_vec(&mut r, k * n);
            for threads in [1, 2] {
                let want = naive(m, n, k, |i, p| a[i * k + p], |p, j| b[p * n + j]);
                let mut c = vec![1.0; m * n];
                nn(m, n, k, &a, &b, &mut c, false, threads);
                close(&c, &want);
                // b as [n,k]: element (p, j) of Bᵀ at j*k + p.
                let want = naive(m, n, k, |i, p| a[i * k + p], |p, j| b[j * k + p]);
                nt(m, n, k, &a, &b, &mut c, false, threads);
                close(&c, &want);
                // a as [k,m]: element (i, p) of Aᵀ at p*m + i; accumulate on top.
                let mut want = naive(m, n, k, |i, p| a[p * m + i], |p, j| b[p * n + j]);
                want.iter_mut().for_each(|v| *v += 2.0);
                let mut c = vec![2.0; m * n];
                tn(m, n, k, &a, &b, &mut c, true, threads);
                close(&c, &want);
            }
        }
    }

    fn close(got: &[f32], want: &[f32]) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{g} vs {w}");
        }
    }
}
