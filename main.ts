/**
 * deno-process-wrapper: a drop-in for rules_rust's `process_wrapper`.
 *
 * Parse, plan, run, exit code; every effect lives in `mod/`.
 *
 * @example
 * ```sh
 * deno run -A main.ts --subst pwd=${pwd} -- rustc --crate-type=rlib src/lib.rs
 * ```
 *
 * @module
 */

import { WrapperError } from "./mod/errors.ts";
import { runChild } from "./mod/exec.ts";
import { helpText, parseCommandLine } from "./mod/flags.ts";
import { copyOutput, touchFile, writePlannedFiles } from "./mod/markers.ts";
import { type Options, resolveOptions } from "./mod/options.ts";
import { planChild } from "./mod/plan.ts";
import { systemHost } from "./mod/host.ts";
import { writeUnusedInputs } from "./mod/unused_inputs.ts";

/**
 * Runs the wrapper on `argv` (program name excluded) and returns its exit code.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["--", "/bin/true"]); // 0
 * ```
 */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const parsed = parseCommandLine(argv);
    if (parsed.help) {
      console.error(helpText("process_wrapper"));
      return 0;
    }
    const options = resolveOptions(parsed);
    const plan = options.exitEarly ? undefined : planChild(options, systemHost());
    if (options.copySeed || options.seedPrevDir) await seed(options);
    if (plan === undefined) return 0;

    writePlannedFiles(plan.paramFiles);
    const { code } = await runChild(plan, options);
    if (code === 0) {
      if (options.touchFile !== undefined) touchFile(options.touchFile);
      if (options.copyOutput !== undefined) copyOutput(options.copyOutput);
      if (options.writeUnusedInputs !== undefined) writeUnusedInputs(options.writeUnusedInputs);
    }
    return code;
  } catch (error) {
    if (!(error instanceof WrapperError)) throw error;
    console.error(`process wrapper error: ${error.message}`);
    return 1;
  }
}

/** Seeding is loaded only by the command lines that seed. */
async function seed(options: Options): Promise<void> {
  const { seedForOptions } = await import("./mod/seed_step.ts");
  await seedForOptions(options);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
