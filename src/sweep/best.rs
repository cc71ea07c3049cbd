//! The best-performance table of a sweep.
