/**
 * Bazel's `unused_inputs_list`: the file that tells Bazel which declared
 * inputs the action did not use, so they stay out of its cache key. The
 * incremental compile names its seed here, so a changing seed never
 * invalidates the compile.
 *
 * @module
 */

import { describeError, WrapperError } from "./errors.ts";
import type { PathPair } from "./options.ts";

/**
 * The content of an unused-inputs list naming `input`: exactly `INPUT\n`.
 *
 * @example
 * ```ts
 * import { unusedInputsContent } from "./unused_inputs.ts";
 * unusedInputsContent("bazel-out/k8-fastbuild/bin/lib.seed"); // "bazel-out/k8-fastbuild/bin/lib.seed\n"
 * ```
 */
export function unusedInputsContent(input: string): string {
  return `${input}\n`;
}

/**
 * Writes `--write-unused-inputs FILE INPUT` (call it after the child succeeded).
 *
 * @example
 * ```ts
 * import { writeUnusedInputs } from "./unused_inputs.ts";
 * writeUnusedInputs({ source: "/tmp/unused.txt", destination: "seed" });
 * ```
 *
 * @throws {WrapperError} naming the file.
 */
export function writeUnusedInputs({ source: file, destination: input }: PathPair): void {
  try {
    Deno.writeTextFileSync(file, unusedInputsContent(input));
  } catch (error) {
    throw new WrapperError(`--write-unused-inputs ${file}: cannot write (${describeError(error)})`);
  }
}
