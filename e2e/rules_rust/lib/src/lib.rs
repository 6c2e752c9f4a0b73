//! Greets, with what a build script and a proc-macro gave it.

include!(concat!(env!("OUT_DIR"), "/generated.rs"));

answer::make_answer!();

/// Greets `name`.
pub fn greet(name: &str) -> String {
    let cfg = if cfg!(from_build_script) {
        "cfg on"
    } else {
        "cfg off"
    };
    format!(
        "{} {} ({}, {}, {})",
        GREETING,
        name,
        env!("BUILD_VALUE"),
        answer(),
        cfg
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn greets() {
        assert_eq!(super::greet("test"), "hello test (42, 42, cfg on)");
    }
}
