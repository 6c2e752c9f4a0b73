/**
 * One rustc per crate for a pipelined, incremental build
 * (`--incremental-pipelining true` with `--incremental-store`): the crate's
 * metadata run and its compile are served by the same rustc, the way cargo
 * pipelines. rustc runs to its end, so its incremental session is finalized
 * and reused next time; a metadata run killed on the notification never is.
 *
 * rustc writes into the store (`<store>/out`, its `--out-dir` replaced), at
 * paths that stay the same from build to build (rustc reuses its state only
 * for the same output paths), and never into Bazel's outputs, which Bazel
 * removes before each action: files are copied out by the run they belong to.
 *
 * - In a persistent worker, the metadata run starts rustc (or finds it
 *   started) and answers once rustc announces the `.rmeta`, copied to its
 *   place under the caller's `--out-dir`; rustc goes on. The compile then
 *   waits for that same rustc and copies out the rest (`.rlib`, `.d`). What
 *   rustc prints goes to the run it belongs to: up to the notification to the
 *   metadata run, the rest to the compile.
 * - Run alone (one-shot, or a compile whose metadata run is in Bazel's
 *   cache, or in an earlier worker), a run starts rustc itself and waits for
 *   its end. A compile then checks that its `.rmeta` is the one dependents
 *   were given (the file under its `--out-dir`), and fails in one line if not.
 * - The store is locked for as long as rustc runs. A store that cannot be
 *   used means rustc runs without `-Cincremental` in a private directory.
 * - A rustc answered for but not yet joined by its compile counts as a running
 *   child: the worker starts no other child until it is joined or ends, so no
 *   more rustc run than Bazel has actions in flight.
 *
 * @module
 */

import { describeError, WrapperError, wrapperMessage } from "../errors.ts";
import type { ChildPlan } from "../args/mod.ts";
import { type ByteSink, runChild, type RunIO, writeAll } from "../exec/mod.ts";
import { childInputs, leaseIncrementalStore, storeKey } from "./incremental_store.ts";

/** One crate's rustc, shared by its metadata run and its compile. */
interface Pipeline {
  /** The key of what rustc receives: a run with another key never joins it. */
  readonly key: string;
  /** Where rustc writes its files. */
  readonly out: string;
  /** Kills rustc (a run attached to it was cancelled, or the worker stops). */
  readonly stop: AbortController;
  /** Where rustc's output goes: the run attached to it, or held for the next. */
  readonly output: HeldOutput;
  /** True once rustc announced its `.rmeta`; false when it ended without. */
  readonly metadata: Promise<boolean>;
  /** rustc's exit code (after one wrapper line, 1, when it could not run). */
  readonly done: Promise<number>;
  /** Answered for its metadata and not yet joined by its compile. */
  detached: boolean;
  /** Its compile is attached: rustc's output goes there from now on. */
  compileJoined: boolean;
  /** rustc still runs. */
  running: boolean;
  /** Removes the private directory of a rustc that had no store (once copied out). */
  dispose(): void;
  /** Takes it out of the worker's pipelines: its compile took its files, or it failed. */
  forget(): void;
}

/**
 * The worker's pipelines, by store. One that succeeded stays until its compile
 * takes its files (a small crate's rustc often ends before the compile's
 * request comes). A one-shot run has at most its own.
 */
const pipelines = new Map<string, Pipeline>();

/** Wakes the runs waiting for a detached rustc to be joined or to end. */
let detachedChanged: (() => void)[] = [];

function setDetached(pipeline: Pipeline, detached: boolean): void {
  pipeline.detached = detached;
  const waiting = detachedChanged;
  detachedChanged = [];
  for (const wake of waiting) wake();
}

/**
 * Waits while a rustc of this worker runs without the action it belongs to
 * (answered for its metadata, its compile not yet arrived): Bazel counts it
 * in none of its jobs. Returns at once in a one-shot run.
 *
 * @example
 * ```ts
 * import { untilNoDetachedRustc } from "./pipelined.ts";
 * await untilNoDetachedRustc(); // no pipeline here
 * ```
 */
export async function untilNoDetachedRustc(cancel?: AbortSignal): Promise<void> {
  while ([...pipelines.values()].some((pipeline) => pipeline.detached) && !cancel?.aborted) {
    await new Promise<void>((wake) => {
      detachedChanged.push(wake);
      cancel?.addEventListener("abort", () => wake(), { once: true });
    });
  }
}

/**
 * Kills every rustc of this worker's pipelines (the worker stops).
 *
 * @example
 * ```ts
 * import { stopPipelines } from "./pipelined.ts";
 * stopPipelines(); // none here: nothing to do
 * ```
 */
export function stopPipelines(): void {
  for (const pipeline of pipelines.values()) pipeline.stop.abort();
}

/**
 * Runs `plan` (`--incremental-pipelining`): its metadata run when
 * `plan.output.quitOnMetadata`, else its compile. `prepare` gives the final
 * rustc arguments (the working-directory check of the state). Returns the
 * exit code, or `undefined` after one `warn` line when the command line has
 * no `--out-dir=` to redirect (the caller then runs it as a plain store run).
 *
 * @example
 * ```ts ignore
 * const code = await runPipelined(plan, io, (args) => Promise.resolve(args));
 * ```
 */
export async function runPipelined(
  plan: ChildPlan,
  io: RunIO,
  prepare: (args: readonly string[]) => Promise<readonly string[]>,
): Promise<number | undefined> {
  const root = plan.incrementalStore!;
  const outDirIndex = plan.args.findIndex((arg) => arg.startsWith(OUT_DIR));
  if (outDirIndex < 0) {
    io.warn(wrapperMessage(
      `--incremental-pipelining: no ${OUT_DIR} among rustc's arguments: running it alone`,
    ));
    return undefined;
  }
  const outDir = plan.args[outDirIndex].slice(OUT_DIR.length);
  const key = await storeKey(childInputs(plan));
  let pipeline = pipelines.get(root);
  if (pipeline !== undefined && pipeline.key !== key) {
    // Another build's rustc, for other inputs: it must not write the store any longer.
    pipeline.stop.abort();
    await pipeline.done;
    pipeline.forget();
    pipeline = undefined;
  }
  if (pipeline === undefined) {
    await untilNoDetachedRustc(io.cancel);
    pipeline = await startPipeline(root, key, plan, outDirIndex, io, prepare);
  }
  const joined = pipeline;
  const stopOnCancel = () => joined.stop.abort();
  io.cancel?.addEventListener("abort", stopOnCancel);
  try {
    return plan.output.quitOnMetadata
      ? await answerMetadata(joined, outDir, io)
      : await answerCompile(joined, outDir, io);
  } finally {
    io.cancel?.removeEventListener("abort", stopOnCancel);
  }
}

const OUT_DIR = "--out-dir=";

async function answerMetadata(pipeline: Pipeline, outDir: string, io: RunIO): Promise<number> {
  const isRmeta = (name: string) => name.endsWith(".rmeta");
  // A worker answers at the notification and lets rustc go on; a one-shot run cannot.
  if (io.keepsChildren && await pipeline.metadata) {
    if (!pipeline.compileJoined && pipeline.running) setDetached(pipeline, true);
    return copyOut(pipeline, outDir, isRmeta, io);
  }
  const code = await pipeline.done;
  try {
    return code === 0 ? copyOut(pipeline, outDir, isRmeta, io) : code;
  } finally {
    if (!io.keepsChildren) pipeline.dispose();
  }
}

async function answerCompile(pipeline: Pipeline, outDir: string, io: RunIO): Promise<number> {
  pipeline.compileJoined = true;
  await pipeline.output.attach(io.childStderr);
  setDetached(pipeline, false);
  const code = await pipeline.done;
  try {
    return code === 0 ? checkAndCopyCompile(pipeline, outDir, io) : code;
  } finally {
    pipeline.forget();
    pipeline.dispose();
  }
}

function checkAndCopyCompile(pipeline: Pipeline, outDir: string, io: RunIO): number {
  const rmeta = [...Deno.readDirSync(pipeline.out)].find(({ name }) => name.endsWith(".rmeta"));
  if (rmeta !== undefined) {
    const given = `${outDir}/${rmeta.name}`;
    const dependentsGot = readIfPresent(given);
    if (
      dependentsGot !== undefined &&
      !sameBytes(dependentsGot, Deno.readFileSync(`${pipeline.out}/${rmeta.name}`))
    ) {
      io.warn(wrapperMessage(
        `${given}, which dependents compiled against, differs from this compile's .rmeta: ` +
          "its metadata action must run again (bazel clean)",
      ));
      return 1;
    }
  }
  return copyOut(pipeline, outDir, (name) => !name.endsWith(".rmeta"), io);
}

/** Copies rustc's files that `wanted` names from the pipeline's directory to `outDir`. */
function copyOut(
  pipeline: Pipeline,
  outDir: string,
  wanted: (name: string) => boolean,
  io: RunIO,
): number {
  try {
    for (const { name, isFile } of Deno.readDirSync(pipeline.out)) {
      if (!isFile || !wanted(name)) continue;
      const target = `${outDir}/${name}`;
      try {
        Deno.removeSync(target); // A file left read-only by an earlier build.
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      Deno.copyFileSync(`${pipeline.out}/${name}`, target);
    }
    return 0;
  } catch (error) {
    io.warn(
      wrapperMessage(
        `--incremental-pipelining: cannot copy rustc's files to ${outDir} (${
          describeError(error)
        })`,
      ),
    );
    return 1;
  }
}

async function startPipeline(
  root: string,
  key: string,
  plan: ChildPlan,
  outDirIndex: number,
  io: RunIO,
  prepare: (args: readonly string[]) => Promise<readonly string[]>,
): Promise<Pipeline> {
  const lease = await leaseIncrementalStore(root, childInputs(plan), io.warn, io.cancel);
  // Without the store, rustc still must not write Bazel's outputs: a private directory.
  const out = lease ? `${root}/out` : Deno.makeTempDirSync({ prefix: "process-wrapper-out-" });
  const stop = new AbortController();
  const output = new HeldOutput(io.childStderr);
  let announce: (announced: boolean) => void = () => {};
  const metadata = new Promise<boolean>((resolve) => announce = resolve);
  const args = plan.args.with(outDirIndex, `${OUT_DIR}${out}`);
  const pipeline: Pipeline = {
    key,
    out,
    stop,
    output,
    metadata,
    done: run(),
    detached: false,
    compileJoined: false,
    running: true,
    dispose() {
      if (lease === undefined) Deno.removeSync(out, { recursive: true });
    },
    forget() {
      if (pipelines.get(root) === pipeline) pipelines.delete(root);
    },
  };
  pipelines.set(root, pipeline);
  return pipeline;

  async function run(): Promise<number> {
    await Promise.resolve(); // Runs once the pipeline is registered.
    let code = 1;
    try {
      Deno.removeSync(out, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        io.warn(wrapperMessage(`${out}: cannot empty (${describeError(error)})`));
      }
    }
    try {
      Deno.mkdirSync(out, { recursive: true });
      const outcome = await runChild(
        {
          ...plan,
          args: lease ? await prepare([...args, `-Cincremental=${lease.directory}`]) : args,
          output: { ...plan.output, quitOnMetadata: false },
        },
        { ...io, childStdout: output, childStderr: output, cancel: stop.signal },
        {
          started: (pid) => lease?.childStarted?.(pid),
          metadata: () => {
            // The metadata run is answered with what came so far; the rest waits for the compile.
            if (!pipeline.compileJoined) output.hold();
            announce(true);
          },
        },
      );
      code = outcome.code;
      return code;
    } catch (error) {
      if (!(error instanceof WrapperError)) throw error;
      io.warn(wrapperMessage(error.message));
      return 1;
    } finally {
      announce(false);
      lease?.[Symbol.dispose]();
      pipeline.running = false;
      // A failed or killed rustc is never joined by a later run: it starts anew.
      if (code !== 0 || stop.signal.aborted) pipeline.forget();
      setDetached(pipeline, false);
    }
  }
}

/** rustc's output, sent to the run attached to it, or held until one attaches. */
class HeldOutput implements ByteSink {
  #target: ByteSink | undefined;
  #held: Uint8Array[] = [];

  constructor(target: ByteSink) {
    this.#target = target;
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.#target !== undefined) return this.#target.write(bytes);
    this.#held.push(bytes.slice());
    return Promise.resolve(bytes.length);
  }

  /** Holds what comes next (the run it went to is answered). */
  hold(): void {
    this.#target = undefined;
  }

  /** Sends what was held, then everything after it, to `target`. */
  async attach(target: ByteSink): Promise<void> {
    for (const bytes of this.#held) await writeAll(target, bytes);
    this.#held = [];
    this.#target = target;
  }
}

function readIfPresent(path: string): Uint8Array | undefined {
  try {
    return Deno.readFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}
