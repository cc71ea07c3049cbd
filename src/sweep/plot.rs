//! Plots of a sweep (see `plot`).
