/// The chain's total, for C callers.
#[no_mangle]
pub extern "C" fn chain_total(seed: u64) -> u64 {
    shapes::total(seed)
}
