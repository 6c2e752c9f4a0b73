use std::env;
use std::fs;
use std::path::Path;

fn main() {
    let greeting = env::var("GREETING").expect("GREETING from build_script_env");
    let out_dir = env::var("OUT_DIR").expect("OUT_DIR");
    fs::write(
        Path::new(&out_dir).join("generated.rs"),
        format!("pub const GREETING: &str = {:?};\n", greeting),
    )
    .expect("write generated.rs");
    println!("cargo:rustc-env=BUILD_VALUE=42");
    println!("cargo:rustc-cfg=from_build_script");
}
