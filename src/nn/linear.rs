//! STUB
/// Linear.
pub struct Linear;
