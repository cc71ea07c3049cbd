//! STUB
/// Head.
pub enum Head {}
