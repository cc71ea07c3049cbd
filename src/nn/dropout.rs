//! STUB
/// Dropout.
pub struct Dropout;
