//! Ctrl-C. The first press asks long jobs (training, noise training,
//! sweeps) to stop at their next safe point — after a step with its
//! checkpoint written, after a recorded row — and to say how to resume; a
//! second press exits at once (every output is written atomically, so even
//! that leaves no half-written file).

use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    // Only async-signal-safe work here: an atomic swap and _exit.
    if REQUESTED.swap(true, Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) }
    }
}

/// Install the Ctrl-C handler (the CLI does, once, at start).
pub fn install() {
    #[cfg(unix)]
    // SAFETY: the handler only touches an atomic and calls _exit.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t,
        );
    }
}

/// Ask long jobs to stop at their next safe point, as a first Ctrl-C does;
/// for hosts that catch the signal themselves (the Python package sets it
/// when Python reports a KeyboardInterrupt).
pub fn request() {
    REQUESTED.store(true, Ordering::SeqCst);
}

/// Forget a stop request, so that the next job runs (a host that handled
/// the interruption and goes on, such as a Python session).
pub fn reset() {
    REQUESTED.store(false, Ordering::SeqCst);
}

/// Whether Ctrl-C was pressed.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// `Err(Error::Interrupted(msg()))` when Ctrl-C was pressed.
pub fn check(msg: impl FnOnce() -> String) -> Result<()> {
    if requested() {
        Err(Error::Interrupted(msg()))
    } else {
        Ok(())
    }
}
