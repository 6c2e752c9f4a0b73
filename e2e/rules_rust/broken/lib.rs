pub fn broken() -> u32 {
    "not a number"
}
