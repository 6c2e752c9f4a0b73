/**
 * Runs the child: spawns it with the planned argv and env, streams its
 * stderr through {@linkcode pumpStderr}, kills it once metadata is out when
 * asked to, forwards SIGTERM/SIGINT to it, and maps its end to an exit code.
 *
 * @module
 */

import { debug } from "../debug.ts";
import { describeError, WrapperError } from "../errors.ts";
import type { ChildPlan } from "../args/plan.ts";
import { type ByteSink, type RunIO, writeAll } from "./run_io.ts";
import {
  onStopSignals,
  processIdentity,
  signalProcessTree,
  stopProcessTree,
} from "./process_tree.ts";
import { spawnChild, spawnIntoFile } from "./spawn.ts";
import { OrphanGuard, pumpStderr } from "./stderr_pump.ts";

/** How the child ended. */
export interface ChildOutcome {
  /** The exit code the wrapper should exit with. */
  readonly code: number;
  /** The wrapper killed the child after metadata was emitted. */
  readonly stoppedAtMetadata: boolean;
}

/** What a caller may follow of a run. */
export interface ChildHooks {
  /** Called once the child has started, with its process id. */
  readonly started?: (pid: number) => void;
  /** Sees every raw byte of the child's stderr, as `--output-file` gets them. */
  readonly stderr?: (bytes: Uint8Array) => void;
  /** Called when rustc announces its metadata, everything printed before it forwarded. */
  readonly metadata?: () => void;
}

/**
 * Spawns the planned child and waits for it; `hooks` follow the run.
 *
 * @example
 * ```ts
 * import { runChild } from "./run_child.ts";
 * import { PROCESS_IO } from "./run_io.ts";
 * import assert from "node:assert/strict";
 * const output = { quitOnMetadata: false };
 * const plan = { executable: "/bin/sh", args: ["-c", "exit 3"], env: {}, paramFiles: [], output };
 * assert.equal((await runChild(plan, PROCESS_IO)).code, 3);
 * ```
 *
 * @throws {WrapperError} when the child can't be started, an output file can't
 * be opened or written (the child is then killed), or its stderr is not the
 * JSON that `--rustc-output-format` expects.
 */
export async function runChild(
  plan: ChildPlan,
  io: RunIO,
  hooks: ChildHooks = {},
): Promise<ChildOutcome> {
  const options = plan.output;
  debug(`child argv: ${JSON.stringify([plan.executable, ...plan.args])}`);
  // Listening before the spawn: a signal that comes before the child's identity is taken (a
  // loaded machine may run the child well before this process goes on) is forwarded then.
  let receivedSignal: number | undefined;
  const forwarding: { stop?: (signal: Deno.Signal) => void; pending?: Deno.Signal } = {};
  using _forwarding = io.forwardSignals
    ? onStopSignals((signal, number) => {
      receivedSignal ??= number;
      if (forwarding.stop) forwarding.stop(signal);
      else forwarding.pending ??= signal;
    })
    : undefined;
  const child = options.stdoutFile === undefined
    ? spawnChild(plan, io.stdin, io.childStdout !== undefined ? "piped" : "inherit")
    : await spawnIntoFile(plan, io.stdin, options.stdoutFile);

  // Taken now, while the child cannot have been reaped: after that its id may be a stranger's.
  const self = processIdentity(child.pid);
  forwarding.stop = (signal) => stopProcessTree(self, signal, child.status);
  if (forwarding.pending !== undefined) forwarding.stop(forwarding.pending);
  hooks.started?.(child.pid);
  const kill = () => signalProcessTree(self, "SIGKILL");
  if (io.cancel?.aborted) kill();
  io.cancel?.addEventListener("abort", kill);
  // Output files are created only once the child runs, as upstream does.
  const files = new OutputFiles();
  try {
    const stderrFile = files.open("--stderr-file", options.stderrFile);
    const outputFile = files.open("--output-file", options.outputFile);
    // Once the child is gone, processes it left behind must not hold the run by its pipes.
    const guard = new OrphanGuard(child.status);
    const stdoutDone = child.stdout && io.childStdout
      ? copyAll(child.stdout, io.childStdout, guard)
      : undefined;
    // A failed write to stdout must not wait for stderr to end: the child is stopped at once.
    stdoutDone?.catch(kill);
    const outcome = await pumpStderr(child.stderr, {
      forward: stderrFile ?? io.childStderr,
      raw: tapped(outputFile, hooks.stderr),
      format: options.format,
      quitOnMetadata: options.quitOnMetadata,
      onMetadata: hooks.metadata,
      guard,
    });
    if (outcome.stoppedAtMetadata) {
      debug("metadata emitted: killing the child");
      kill(); // rustc may have exited on its own meanwhile.
      await child.stderr.cancel().catch(() => {});
    }
    const status = await child.status;
    await stdoutDone;
    if (receivedSignal !== undefined) {
      return { code: 128 + receivedSignal, stoppedAtMetadata: false };
    }
    if (outcome.stoppedAtMetadata) return { code: 0, stoppedAtMetadata: true };
    const code = status.signal === null ? status.code : 1;
    if (outcome.invalidLine !== undefined) {
      const reason = `failed to process stderr: error parsing rustc output as json: ${
        JSON.stringify(outcome.invalidLine.slice(0, 200))
      }`;
      if (code === 0) throw new WrapperError(reason);
      debug(reason);
    }
    return { code, stoppedAtMetadata: false };
  } catch (error) {
    // Output that cannot be written (a full disk) ends the run: the child must not go on.
    kill();
    await child.status;
    await child.stderr.cancel().catch(() => {});
    throw error;
  } finally {
    io.cancel?.removeEventListener("abort", kill);
    files.close();
  }
}

/**
 * The files a run writes its child's output to. Every failure, opening or
 * writing, is a {@linkcode WrapperError} naming the flag and the file.
 *
 * @example
 * ```ts
 * import { OutputFiles } from "./run_child.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * const files = new OutputFiles();
 * await files.open("--output-file", `${dir}/raw.txt`)!.write(new TextEncoder().encode("hi"));
 * files.close();
 * assert.equal(Deno.readTextFileSync(`${dir}/raw.txt`), "hi");
 * assert.equal(files.open("--stderr-file", undefined), undefined);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class OutputFiles {
  readonly #open: Deno.FsFile[] = [];

  /** Opens (creates, truncates) `path` for `flag`; `undefined` when no path is given. */
  open(flag: string, path: string | undefined): ByteSink | undefined {
    if (path === undefined) return undefined;
    let file: Deno.FsFile;
    try {
      file = Deno.openSync(path, { write: true, create: true, truncate: true });
    } catch (error) {
      throw new WrapperError(`${flag} ${path}: cannot open for writing (${describeError(error)})`);
    }
    this.#open.push(file);
    return {
      async write(bytes) {
        try {
          return await file.write(bytes);
        } catch (error) {
          throw new WrapperError(`${flag} ${path}: cannot write (${describeError(error)})`);
        }
      },
    };
  }

  /** Closes every file opened. */
  close(): void {
    for (const file of this.#open) file.close();
  }
}

/** `sink` (if any), with `tap` seeing every byte it takes. */
function tapped(
  sink: ByteSink | undefined,
  tap: ((bytes: Uint8Array) => void) | undefined,
): ByteSink | undefined {
  if (tap === undefined) return sink;
  return {
    async write(bytes) {
      const written = sink ? await sink.write(bytes) : bytes.length;
      tap(bytes.subarray(0, written));
      return written;
    },
  };
}

async function copyAll(
  from: ReadableStream<Uint8Array>,
  to: ByteSink,
  guard: OrphanGuard,
): Promise<void> {
  const reader = from.getReader();
  try {
    for (;;) {
      const result = await guard.read(reader, () => reader.read());
      if (result.done) return;
      await writeAll(to, result.value);
    }
  } finally {
    reader.releaseLock();
  }
}
