//! STUB
/// Adam.
pub struct Adam;
