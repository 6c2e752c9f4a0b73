fn main() {
    println!("{}", greet::greeting("bazel"));
    println!("shapes again: {}", shapes::total(1));
    println!("built by {}", env!("E2E_BUILT_BY"));
}
