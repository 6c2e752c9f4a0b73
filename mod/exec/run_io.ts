/**
 * Where one wrapper run sends its output: the process's own streams for a
 * one-shot run, or a request's buffer in a persistent worker, where nothing
 * but protocol responses may reach stdout.
 *
 * @module
 */

/** Where bytes go; `write` may write fewer bytes than given, as `Deno.FsFile` does. */
export interface ByteSink {
  /** Writes some of `bytes`, returning how many. */
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * Writes all of `bytes` to `sink`.
 *
 * @example
 * ```ts
 * import { writeAll } from "./run_io.ts";
 * import assert from "node:assert/strict";
 * const written: number[] = [];
 * // A sink that takes at most 2 bytes a call, as a pipe may take part of a write.
 * const sink = {
 *   write(bytes: Uint8Array) {
 *     written.push(...bytes.subarray(0, 2));
 *     return Promise.resolve(Math.min(2, bytes.length));
 *   },
 * };
 * await writeAll(sink, new TextEncoder().encode("hello"));
 * assert.equal(new TextDecoder().decode(new Uint8Array(written)), "hello");
 * ```
 */
export async function writeAll(sink: ByteSink, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await sink.write(bytes.subarray(offset));
}

/** The streams and controls of one wrapper run. */
export interface RunIO {
  /** Where the child's stdout goes (without `--stdout-file`); `undefined`: inherited. */
  readonly childStdout?: ByteSink;
  /** Where the child's (processed) stderr goes (without `--stderr-file`). */
  readonly childStderr: ByteSink;
  /** Prints one line of the wrapper's own (errors, seeding problems, help). */
  warn(line: string): void;
  /** The child's stdin. */
  readonly stdin: "inherit" | "null";
  /** Forward SIGTERM/SIGINT sent to this process to the child (one-shot runs). */
  readonly forwardSignals: boolean;
  /** Aborted when the run is cancelled: the child is killed. */
  readonly cancel?: AbortSignal;
  /** The process lives on after the run (a persistent worker): a child may outlive it. */
  readonly keepsChildren?: boolean;
}

/**
 * A one-shot run's I/O: this process's stdin, stdout and stderr.
 *
 * @example
 * ```ts
 * import { PROCESS_IO } from "./run_io.ts";
 * import assert from "node:assert/strict";
 * assert.equal(PROCESS_IO.stdin, "inherit");
 * ```
 */
export const PROCESS_IO: RunIO = {
  childStderr: Deno.stderr,
  warn: (line) => console.error(line),
  stdin: "inherit",
  forwardSignals: true,
};
