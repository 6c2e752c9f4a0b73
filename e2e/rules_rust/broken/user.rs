pub fn twice() -> u32 {
    broken_signature::answer() * 2
}
