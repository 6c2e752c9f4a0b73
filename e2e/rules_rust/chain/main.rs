fn main() {
    println!("{}", polite::greet("chain"));
    println!("shapes total {}", shapes::total(1));
    println!("from {}", outside::origin());
}
