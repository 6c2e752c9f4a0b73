#[test]
fn totals_are_deterministic() {
    assert_eq!(shapes::total(7), shapes::total(7));
}
