//! Depends on `shapes` through `--extern`.

/// The line the binary prints.
pub fn greeting(name: &str) -> String {
    let source = if cfg!(from_arg_file) { "arg file" } else { "no arg file" };
    format!("hello {name}: total {} ({source})", shapes::total(7))
}
