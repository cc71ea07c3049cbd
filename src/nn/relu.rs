//! STUB
/// Relu.
pub struct Relu;
