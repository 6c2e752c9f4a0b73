/**
 * The wrapper command lines of rules_rust's incremental design (PR 3925),
 * in one place for the demo, the tests and the benchmarks.
 *
 * @module
 */

/**
 * The seed action's wrapper flags: copy the previous output tree out.
 *
 * @example
 * ```ts
 * import { seedActionArgs } from "./pr3925_args.ts";
 * seedActionArgs("incr", "seed", 0); // ["--seed-prev-dir", "incr", "seed", "--seed-min-mb", "0", "--exit-early", "true"]
 * ```
 */
export function seedActionArgs(previous: string, seed: string, minMb: number): string[] {
  return [
    "--seed-prev-dir",
    previous,
    seed,
    "--seed-min-mb",
    String(minMb),
    "--exit-early",
    "true",
  ];
}

/**
 * The compile action's leading wrapper flags: seed the incremental tree and
 * name the seed as unused. Flags for rustc's output and the child follow.
 *
 * @example
 * ```ts
 * import { compileActionArgs } from "./pr3925_args.ts";
 * compileActionArgs("seed", "incr", "unused.txt", 20).slice(0, 3); // ["--copy-seed", "seed", "incr"]
 * ```
 */
export function compileActionArgs(
  seed: string,
  incr: string,
  unusedList: string,
  minMb: number,
): string[] {
  return [
    "--copy-seed",
    seed,
    incr,
    "--seed-min-mb",
    String(minMb),
    "--write-unused-inputs",
    unusedList,
    seed,
  ];
}
