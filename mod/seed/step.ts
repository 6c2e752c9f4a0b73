/**
 * The seeding step of one wrapper run: `--copy-seed`, then
 * `--seed-prev-dir`, then `--seed-report`. Seeding is never fatal; a report that cannot be
 * written is an error.
 *
 * @module
 */

import { describeError, WrapperError } from "../errors.ts";
import type { Options } from "../args/options.ts";
import { seedDirectory, type SeedReport } from "./seed_directory.ts";

/**
 * Runs the seeding the options ask for and writes the report. The report is
 * one JSON object, or an array of two when both seeding flags are given.
 *
 * @example
 * ```ts
 * import { seedForOptions } from "./step.ts";
 * import { parseCommandLine } from "../args/flags.ts";
 * import { resolveOptions } from "../args/options.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * Deno.mkdirSync(`${dir}/prev`);
 * Deno.writeTextFileSync(`${dir}/prev/state.bin`, "state");
 * const argv = ["--seed-prev-dir", `${dir}/prev`, `${dir}/seed`, "--seed-min-mb", "0", "--exit-early", "true"];
 * const [report] = await seedForOptions(resolveOptions(parseCommandLine(argv)), console.error);
 * assert.equal(report.mode, "hardlink");
 * assert.equal(Deno.readTextFileSync(`${dir}/seed/state.bin`), "state");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export async function seedForOptions(
  options: Options,
  warn: (line: string) => void,
): Promise<SeedReport[]> {
  // With --exit-early no rustc runs on the result here.
  const user = options.exitEarly ? undefined : { uid: Deno.uid() ?? 0 };
  // The contract's order: --copy-seed, then --seed-prev-dir (a missing PREV is expected).
  const requested = [
    { pair: options.copySeed, missingIsExpected: false },
    { pair: options.seedPrevDir, missingIsExpected: true },
  ];
  const reports: SeedReport[] = [];
  for (const { pair, missingIsExpected } of requested) {
    if (pair === undefined) continue;
    reports.push(
      await seedDirectory({ pair, minMb: options.seedMinMb, missingIsExpected, user, warn }),
    );
  }
  if (options.seedReport !== undefined) {
    const body = reports.length === 1 ? reports[0] : reports;
    try {
      Deno.writeTextFileSync(options.seedReport, JSON.stringify(body, null, 2) + "\n");
    } catch (error) {
      // Seeding is never fatal, but a report asked for and lost is lost output.
      throw new WrapperError(
        `--seed-report ${options.seedReport}: cannot write (${describeError(error)})`,
      );
    }
  }
  return reports;
}
