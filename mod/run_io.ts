/**
 * Where one wrapper run sends its output: the process's own streams for a
 * one-shot run, or a request's buffer in a persistent worker, where nothing
 * but protocol responses may reach stdout.
 *
 * @module
 */

import type { ByteSink } from "./stderr_pump.ts";

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
}

/**
 * A one-shot run's I/O: this process's stdin, stdout and stderr.
 *
 * @example
 * ```ts
 * import { PROCESS_IO } from "./run_io.ts";
 * PROCESS_IO.warn("process wrapper: hello");
 * ```
 */
export const PROCESS_IO: RunIO = {
  childStderr: Deno.stderr,
  warn: (line) => console.error(line),
  stdin: "inherit",
  forwardSignals: true,
};
