/**
 * Generates a Rust library crate of a chosen size: several modules, each
 * with a trait, generic functions and impls, so that rustc has real work and
 * writes several object files. Crates.io is out of reach; test and benchmark
 * crates are made here.
 *
 * @module
 */

/** How big a crate to generate. */
export interface CrateShape {
  /** Number of modules (`m0.rs`, `m1.rs`, ...). */
  readonly modules: number;
  /** Functions per module. */
  readonly functionsPerModule: number;
}

/** The body line that {@linkcode editOneFunction} changes. */
const EDIT_MARKER = "let bump = 1; // edit-me";

/**
 * Writes the crate's `lib.rs` and modules into `dir` and returns the lines of code written.
 *
 * @example
 * ```ts
 * import { writeCrate } from "./gen_crate.ts";
 * const lines = writeCrate("/tmp/crate", { modules: 4, functionsPerModule: 50 });
 * ```
 */
export function writeCrate(dir: string, shape: CrateShape): number {
  Deno.mkdirSync(dir, { recursive: true });
  let lines = 0;
  const lib: string[] = [];
  for (let m = 0; m < shape.modules; m++) {
    lib.push(`pub mod m${m};`);
    const source = moduleSource(m, shape.functionsPerModule);
    lines += source.split("\n").length;
    Deno.writeTextFileSync(`${dir}/m${m}.rs`, source);
  }
  lib.push(
    "",
    "/// Sums every module's entry point so that nothing is dead code.",
    "pub fn total(seed: u64) -> u64 {",
    "    let mut acc = seed;",
    ...Array.from(
      { length: shape.modules },
      (_, m) => `    acc = acc.wrapping_add(m${m}::entry(acc));`,
    ),
    "    acc",
    "}",
    "",
  );
  Deno.writeTextFileSync(`${dir}/lib.rs`, lib.join("\n"));
  return lines + lib.length;
}

function moduleSource(m: number, functions: number): string {
  const out: string[] = [
    `//! Generated module ${m}.`,
    "",
    `pub trait Shape${m} {`,
    "    fn area(&self) -> u64;",
    "    fn scaled(&self, k: u64) -> u64 { self.area().wrapping_mul(k) }",
    "}",
    "",
    `#[derive(Clone, Debug, Default)]`,
    `pub struct Rect${m} { pub w: u64, pub h: u64 }`,
    `impl Shape${m} for Rect${m} { fn area(&self) -> u64 { self.w.wrapping_mul(self.h) } }`,
    "",
    `#[derive(Clone, Debug, Default)]`,
    `pub struct Circle${m} { pub r: u64 }`,
    `impl Shape${m} for Circle${m} { fn area(&self) -> u64 { self.r.wrapping_mul(self.r).wrapping_mul(3) } }`,
    "",
    `pub fn fold_shapes<T: Shape${m} + Clone>(items: &[T], k: u64) -> u64 {`,
    "    items.iter().map(|s| s.scaled(k)).fold(0u64, |a, b| a.wrapping_add(b))",
    "}",
    "",
  ];
  for (let f = 0; f < functions; f++) {
    const bump = m === 0 && f === 0 ? `    ${EDIT_MARKER}` : "    let bump = 1;";
    out.push(
      `pub fn f${f}<T: Copy + Into<u64>>(x: T, v: &mut Vec<u64>) -> u64 {`,
      bump,
      "    let mut acc: u64 = x.into();",
      `    for i in 0..${(f % 7) + 3}u64 {`,
      `        acc = acc.wrapping_mul(${(f * 31 + m * 17) % 97 + 3}).wrapping_add(i ^ ${f});`,
      "        if acc % 3 == 0 { v.push(acc); }",
      "    }",
      `    let r = Rect${m} { w: acc % 13, h: ${f} };`,
      `    let c = Circle${m} { r: acc % 7 };`,
      `    acc.wrapping_add(fold_shapes(&[r.clone(), r], 2)).wrapping_add(c.area()).wrapping_add(bump)`,
      "}",
      "",
    );
  }
  out.push(
    `pub fn entry(seed: u64) -> u64 {`,
    "    let mut v = Vec::new();",
    "    let mut acc = seed;",
  );
  for (let f = 0; f < functions; f++) {
    out.push(`    acc = acc.wrapping_add(f${f}(acc as u32, &mut v));`);
  }
  out.push("    acc.wrapping_add(v.len() as u64)", "}", "");
  return out.join("\n");
}

/**
 * Changes one line in one function body (module 0, function 0), as an edit
 * in the edit-build loop would; each call writes a different value.
 *
 * @example
 * ```ts
 * import { editOneFunction } from "./gen_crate.ts";
 * editOneFunction("/tmp/crate", 2);
 * ```
 */
export function editOneFunction(dir: string, value: number): void {
  const path = `${dir}/m0.rs`;
  const source = Deno.readTextFileSync(path);
  const edited = source.replace(/let bump = \d+; \/\/ edit-me/, `let bump = ${value}; // edit-me`);
  if (edited === source && !source.includes(`let bump = ${value}; // edit-me`)) {
    throw new Error(`${path} has no edit marker`);
  }
  Deno.writeTextFileSync(path, edited);
}
