fn main() {
    println!("{}", polite::greet("app"));
    println!("built by {}", env!("STAMPED_USER"));
}
