/**
 * The seeding step of one wrapper run: `--seed-prev-dir`, then
 * `--copy-seed`, then `--seed-report`. Never fatal.
 *
 * @module
 */

import { describeError } from "./errors.ts";
import type { Options } from "./options.ts";
import { seedDirectory, type SeedReport } from "./seed.ts";

/**
 * Runs the seeding the options ask for and writes the report. The report is
 * one JSON object, or an array of two when both seeding flags are given.
 *
 * @example
 * ```ts
 * import { seedForOptions } from "./seed_step.ts";
 * import { parseCommandLine } from "./flags.ts";
 * import { resolveOptions } from "./options.ts";
 * await seedForOptions(resolveOptions(parseCommandLine(["--seed-prev-dir", "prev", "seed", "--exit-early", "true"])), console.error);
 * ```
 */
export async function seedForOptions(
  options: Options,
  warn: (line: string) => void,
): Promise<SeedReport[]> {
  // With --exit-early no rustc runs on the result here.
  const user = options.exitEarly ? undefined : { uid: Deno.uid() ?? 0 };
  const reports: SeedReport[] = [];
  if (options.seedPrevDir) {
    reports.push(
      await seedDirectory({
        pair: options.seedPrevDir,
        minMb: options.seedMinMb,
        missingIsExpected: true,
        user,
        warn,
      }),
    );
  }
  if (options.copySeed) {
    reports.push(
      await seedDirectory({
        pair: options.copySeed,
        minMb: options.seedMinMb,
        missingIsExpected: false,
        user,
        warn,
      }),
    );
  }
  if (options.seedReport !== undefined) {
    const body = reports.length === 1 ? reports[0] : reports;
    try {
      Deno.writeTextFileSync(options.seedReport, JSON.stringify(body, null, 2) + "\n");
    } catch (error) {
      warn(
        `process wrapper: --seed-report ${options.seedReport}: cannot write (${
          describeError(error)
        })`,
      );
    }
  }
  return reports;
}
