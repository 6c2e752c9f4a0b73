/**
 * The files the wrapper writes around the child: expanded `@param` files
 * before it, and `--touch-file` / `--copy-output` after it succeeds.
 *
 * @module
 */

import { describeError, WrapperError } from "./errors.ts";
import type { PathPair } from "./options.ts";
import type { PlannedFile } from "./plan.ts";

/**
 * Writes planned files (the `.expanded` param files).
 *
 * @example
 * ```ts
 * import { writePlannedFiles } from "./markers.ts";
 * writePlannedFiles([{ path: "/tmp/args.params.expanded", content: "--edition=2021\n" }]);
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
 * import { touchFile } from "./markers.ts";
 * touchFile("/tmp/done.marker");
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
 * import { copyOutput } from "./markers.ts";
 * copyOutput({ source: "/tmp/a.txt", destination: "/tmp/b.txt" });
 * ```
 *
 * @throws {WrapperError} naming both paths.
 */
export function copyOutput({ source, destination }: PathPair): void {
  try {
    Deno.copyFileSync(source, destination);
  } catch (error) {
    throw new WrapperError(
      `--copy-output: failed to copy ${source} into ${destination}: ${describeError(error)}`,
    );
  }
}
