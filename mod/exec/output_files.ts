/**
 * The files the wrapper writes around the child: expanded `@param` files
 * before it; `--touch-file`, `--copy-output` and Bazel's
 * `unused_inputs_list` (`--write-unused-inputs`) after it succeeds.
 *
 * The incremental compile names its seed in the unused-inputs list, so a
 * changing seed never changes the compile's cache key.
 *
 * @module
 */

import { describeError, WrapperError } from "../errors.ts";
import type { PathPair } from "../args/options.ts";
import type { PlannedFile } from "../args/plan.ts";

/**
 * Writes planned files (the `.expanded` param files).
 *
 * @example
 * ```ts
 * import { writePlannedFiles } from "./output_files.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * const path = `${dir}/args.params.expanded`;
 * writePlannedFiles([{ path, content: "--edition=2021\n" }]);
 * assert.equal(Deno.readTextFileSync(path), "--edition=2021\n");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @throws {WrapperError} naming the file that can't be written.
 */
export function writePlannedFiles(files: readonly PlannedFile[]): void {
  for (const { path, content } of files) {
    try {
      Deno.writeTextFileSync(path, content);
    } catch (error) {
      throw new WrapperError(`cannot write expanded param file ${path}: ${describeError(error)}`);
    }
  }
}

/**
 * Creates (or truncates) `--touch-file`.
 *
 * @example
 * ```ts
 * import { touchFile } from "./output_files.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * const path = `${dir}/done.marker`;
 * touchFile(path);
 * assert.equal(Deno.statSync(path).size, 0);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @throws {WrapperError} naming the file.
 */
export function touchFile(path: string): void {
  try {
    Deno.writeFileSync(path, new Uint8Array());
  } catch (error) {
    throw new WrapperError(`--touch-file ${path}: cannot create (${describeError(error)})`);
  }
}

/**
 * Copies `--copy-output SRC DST`.
 *
 * @example
 * ```ts
 * import { copyOutput } from "./output_files.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/a.txt`, "out");
 * copyOutput({ source: `${dir}/a.txt`, destination: `${dir}/b.txt` });
 * assert.equal(Deno.readTextFileSync(`${dir}/b.txt`), "out");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @throws {WrapperError} naming both paths.
 */
export function copyOutput({ source, destination }: PathPair): void {
  try {
    Deno.copyFileSync(source, destination);
  } catch (error) {
    throw new WrapperError(
      `--copy-output ${source} ${destination}: cannot copy (${describeError(error)})`,
    );
  }
}

/**
 * The content of an unused-inputs list naming `input`: exactly `INPUT\n`.
 *
 * @example
 * ```ts
 * import { unusedInputsContent } from "./output_files.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(unusedInputsContent("bazel-out/k8-fastbuild/bin/lib.seed"), "bazel-out/k8-fastbuild/bin/lib.seed\n");
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
 * import { writeUnusedInputs } from "./output_files.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * const list = `${dir}/unused.txt`;
 * writeUnusedInputs({ source: list, destination: "lib.seed" });
 * assert.equal(Deno.readTextFileSync(list), "lib.seed\n");
 * Deno.removeSync(dir, { recursive: true });
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
