//! Long calls from Python: the work runs on its own thread without the GIL,
//! while the calling thread reports its progress to a Python callback and
//! watches for Ctrl-C (`py.check_signals()`, which only the main thread can
//! do). On Ctrl-C the library's interrupt flag is set, the job stops at its
//! next safe point (every output file is written atomically, so nothing is
//! left half-written) and the call raises `KeyboardInterrupt`.

use crate::errors::to_py;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

/// How often the waiting thread checks for Ctrl-C.
const POLL: Duration = Duration::from_millis(100);

/// One progress report: done, total, message.
type Update = (u64, u64, String);

/// Where a job reports its progress (cheap: a channel send).
pub struct Progress(Sender<Update>);

impl Progress {
    /// `done` of `total`, with a short message.
    pub fn set(&self, done: u64, total: u64, msg: impl Into<String>) {
        // The receiver lives until the job ends: a failed send cannot happen.
        let _ = self.0.send((done, total, msg.into()));
    }
}

/// Run `job` off the GIL; `progress` (a callable `(done, total, msg)`, or
/// None) gets its latest report every poll.
pub fn run<T: Send>(
    py: Python<'_>,
    progress: Option<&Bound<'_, PyAny>>,
    job: impl FnOnce(&Progress) -> parana::Result<T> + Send,
) -> PyResult<T> {
    parana::interrupt::reset();
    let out = std::thread::scope(|s| {
        let (tx, mut rx) = mpsc::channel::<Update>();
        let handle = s.spawn(move || job(&Progress(tx)));
        let mut stopped: Option<PyErr> = None;
        loop {
            let (got, back) = py.detach(move || (rx.recv_timeout(POLL), rx));
            rx = back;
            match got {
                Ok(mut u) => {
                    while let Ok(next) = rx.try_recv() {
                        u = next;
                    }
                    if let (Some(cb), None) = (progress, &stopped)
                        && let Err(e) = cb.call1(u)
                    {
                        parana::interrupt::request();
                        stopped = Some(e);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if stopped.is_none()
                && let Err(e) = py.check_signals()
            {
                parana::interrupt::request();
                stopped = Some(e);
            }
        }
        let joined = handle.join();
        (joined, stopped)
    });
    parana::interrupt::reset();
    match out {
        (_, Some(e)) => Err(e),
        (Ok(r), None) => r.map_err(to_py),
        (Err(_), None) => Err(PyRuntimeError::new_err("parana: the job panicked")),
    }
}
