//! Subnormal floats flushed to zero on every thread that computes.
//!
//! Training with L2 decay drives the weights of always-zero inputs (the
//! border pixels of MNIST) towards zero, and a trained model holds tens of
//! thousands of subnormal weights. x86 CPUs take a microcode slow path for
//! every subnormal operand or result: an attack step on the article's `lq`
//! model ran 7-10x slower, and late training steps slow down too. Values
//! below 1.2e-38 change no prediction, so parana sets FTZ and DAZ (as
//! `torch.set_flush_denormal(True)` does) before any heavy work.

/// Flush subnormal numbers to zero (FTZ and DAZ) on this thread and on
/// every thread of rayon's pool, which the products run on. Idempotent.
/// (On other architectures it does nothing: their defaults are fast.)
pub fn flush_denormals() {
    fn set() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: reading and setting MXCSR's FTZ (bit 15) and DAZ (bit 6)
        // only changes how this thread rounds subnormal numbers.
        #[allow(deprecated)]
        unsafe {
            use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
            _mm_setcsr(_mm_getcsr() | (1 << 15) | (1 << 6));
        }
    }
    set();
    rayon::broadcast(|_| set());
}
