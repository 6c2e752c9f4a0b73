//! Greets politely.

/// Greets `name`, politely.
///
/// ```
/// assert_eq!(polite::greet("doc"), "hello doc (42, 42, cfg on)");
/// ```
pub fn greet(name: &str) -> String {
    greeter::greet(name)
}
