/// Compiles with a warning, which both wrappers must print alike.
pub fn warns() -> u32 {
    let unused = 7;
    1
}
