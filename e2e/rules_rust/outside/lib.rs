//! A crate from another repository.

/// Where this crate comes from.
pub fn origin() -> &'static str {
    "an external repository"
}
