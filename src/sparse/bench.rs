//! `parana bench sparse`: the sparse engine against the dense path.
