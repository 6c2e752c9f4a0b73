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
 * - In a persistent worker, the metadata run starts rustc (a rustc of an
 *   earlier metadata run is stopped: a source edit leaves the key as it was)
 *   and answers once rustc announces the `.rmeta`, copied to its place under
 *   the caller's `--out-dir`; rustc goes on, one step back in the scheduler
 *   (niceness +10, to its end: an unprivileged process cannot undo it): its
 *   code generation is needed only by its compile and what links it, while
 *   the dependents it lets start are on the critical path. The compile then joins that
 *   same rustc (running, or ended well), waits for its end, and copies out
 *   the rest (`.rlib`, `.d`). What rustc prints goes to the run it belongs
 *   to, and to that run's `--output-file` and `--stderr-file`: up to the
 *   notification to the metadata run, the rest to the compile.
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

import { Buffer } from "node:buffer";
import { describeError, WrapperError, wrapperMessage } from "../errors.ts";
import type { ChildPlan } from "../args/mod.ts";
import {
  type ByteSink,
  lowerPriority,
  OutputFiles,
  type ProcessIdentity,
  processIdentity,
  runChild,
  type RunIO,
  writeAll,
} from "../exec/mod.ts";
import {
  childInputs,
  leaseIncrementalStore,
  removeIfPresent,
  storeKey,
  type StoreLease,
} from "./incremental_store.ts";

/** One crate's rustc, shared by its metadata run and its compile. */
interface Pipeline {
  /** Its store. */
  readonly root: string;
  /** The key of what rustc receives: a compile with another key never joins it. */
  readonly key: string;
  /** Kills rustc (a run attached to it was cancelled, or the worker stops). */
  readonly stop: AbortController;
  /** rustc's processed stderr: to the run attached to it, or held for the next. */
  readonly stderr: HeldOutput;
  /** rustc's raw stderr, for the attached run's `--output-file`. */
  readonly raw: HeldOutput;
  /** True once rustc announced its `.rmeta`; false when it ended without. */
  readonly metadata: Promise<boolean>;
  /** rustc's exit code (1 after one wrapper line when it could not run). */
  readonly done: Promise<number>;
  /** Where rustc writes its files: known once it runs. */
  out: string;
  /** Its metadata run was answered (in a worker): its compile may join it. */
  answered: boolean;
  /** Answered for its metadata, still running, and not yet joined by its compile. */
  detached: boolean;
  /** Its compile is attached: rustc's output goes there from now on. */
  compileJoined: boolean;
  /** rustc runs, or has yet to start. */
  running: boolean;
  /** Takes it out of the worker's pipelines and removes a private directory it had. */
  forget(): void;
}

/**
 * The worker's pipelines, by store. One that succeeded stays until its compile
 * takes its files (a small crate's rustc often ends before the compile's
 * request comes). A one-shot run has at most its own.
 */
const pipelines = new Map<string, Pipeline>();

/**
 * Per store, the runs still reading its rustc's files (copies out, the
 * compile's check): a new rustc rewrites them, and a private directory is
 * removed, only once those reads end.
 */
const readers = new Map<string, Promise<unknown>>();

/** Registers `read`, a run reading the files of the store's rustc, and passes on its result. */
function reading<T>(root: string, read: Promise<T>): Promise<T> {
  const all = Promise.allSettled([readers.get(root), read]);
  readers.set(root, all);
  all.then(() => {
    if (readers.get(root) === all) readers.delete(root);
  });
  return read;
}

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
 * in none of its jobs. Returns at once in a one-shot run, or once `cancel`
 * is aborted.
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
      const woken = () => {
        cancel?.removeEventListener("abort", woken);
        wake();
      };
      detachedChanged.push(woken);
      cancel?.addEventListener("abort", woken, { once: true });
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
 * exit code, or `undefined` after one `warn` line when the command line
 * cannot be pipelined (no `--out-dir=` to redirect, or `--stdout-file`):
 * the caller then runs it as a plain store run.
 *
 * @example
 * ```ts ignore
 * const code = await runPipelined(plan, io, (args) => Promise.resolve(args));
 * ```
 *
 * @throws {WrapperError} when the run is cancelled before its rustc starts,
 * or one of its output files cannot be opened.
 */
export async function runPipelined(
  plan: ChildPlan,
  io: RunIO,
  prepare: (args: readonly string[]) => Promise<readonly string[]>,
): Promise<number | undefined> {
  const root = plan.incrementalStore!;
  const outDirIndex = plan.args.findIndex((arg) => arg.startsWith(OUT_DIR));
  const reason = outDirIndex < 0
    ? `no ${OUT_DIR} among rustc's arguments`
    : plan.output.stdoutFile !== undefined
    ? "--stdout-file is the child's own stdout"
    : undefined;
  if (reason !== undefined) {
    io.warn(wrapperMessage(`--incremental-pipelining: ${reason}: running it alone`));
    return undefined;
  }
  const outDir = plan.args[outDirIndex].slice(OUT_DIR.length);
  const key = await storeKey(childInputs(plan));
  const metadataRun = plan.output.quitOnMetadata;
  let pipeline = pipelines.get(root);
  // A metadata run always starts rustc: the key misses the sources, so an earlier rustc of the
  // same key may have compiled other ones. A compile joins the rustc its metadata run started.
  const joins = !metadataRun && pipeline !== undefined && pipeline.key === key &&
    pipeline.answered && !pipeline.compileJoined;
  if (pipeline !== undefined && !joins) {
    pipeline.stop.abort();
    await pipeline.done;
    pipeline.forget();
    pipeline = undefined;
  }
  // Cancelled meanwhile: a rustc to join is stopped below, none is started.
  if (pipeline === undefined && io.cancel?.aborted) {
    throw new WrapperError("cancelled before its rustc started");
  }
  const files = new OutputFiles();
  try {
    const sinks = {
      stderr: files.open("--stderr-file", plan.output.stderrFile) ?? io.childStderr,
      raw: files.open("--output-file", plan.output.outputFile) ?? DISCARD,
    };
    const joined = pipeline ??
      startPipeline(
        root,
        key,
        plan,
        outDirIndex,
        io,
        sinks,
        metadataRun && !!io.keepsChildren,
        prepare,
      );
    const stopOnCancel = () => joined.stop.abort();
    io.cancel?.addEventListener("abort", stopOnCancel);
    if (io.cancel?.aborted) stopOnCancel();
    try {
      return metadataRun
        ? await answerMetadata(joined, outDir, io)
        : await answerCompile(joined, outDir, io, sinks);
    } finally {
      io.cancel?.removeEventListener("abort", stopOnCancel);
      await joined.stderr.flushed();
      await joined.raw.flushed();
    }
  } finally {
    files.close();
  }
}

const OUT_DIR = "--out-dir=";

/** How far a rustc answered for its metadata steps back (`nice`'s own default). */
const CODEGEN_NICENESS = 10;

/** A sink that keeps nothing: rustc's raw stderr when the run has no `--output-file`. */
const DISCARD: ByteSink = { write: (bytes) => Promise.resolve(bytes.length) };

const isRmeta = (name: string) => name.endsWith(".rmeta");

async function answerMetadata(pipeline: Pipeline, outDir: string, io: RunIO): Promise<number> {
  // A worker answers at the notification and lets rustc go on; a one-shot run cannot.
  if (io.keepsChildren && await pipeline.metadata) {
    pipeline.answered = true;
    if (pipeline.running) setDetached(pipeline, true);
    return await reading(pipeline.root, copyOut(pipeline, outDir, isRmeta, io));
  }
  const code = await pipeline.done;
  try {
    return code === 0 ? await reading(pipeline.root, copyOut(pipeline, outDir, isRmeta, io)) : code;
  } finally {
    if (!io.keepsChildren || code !== 0) pipeline.forget();
  }
}

async function answerCompile(
  pipeline: Pipeline,
  outDir: string,
  io: RunIO,
  sinks: { stderr: ByteSink; raw: ByteSink },
): Promise<number> {
  pipeline.compileJoined = true;
  await pipeline.stderr.attach(sinks.stderr);
  await pipeline.raw.attach(sinks.raw);
  setDetached(pipeline, false);
  const code = await pipeline.done;
  try {
    return code === 0
      ? await reading(pipeline.root, checkAndCopyCompile(pipeline, outDir, io))
      : code;
  } finally {
    pipeline.forget();
  }
}

async function checkAndCopyCompile(
  pipeline: Pipeline,
  outDir: string,
  io: RunIO,
): Promise<number> {
  const names = [...Deno.readDirSync(pipeline.out)].filter((entry) => entry.isFile)
    .map((entry) => entry.name);
  const rmeta = names.find(isRmeta);
  if (rmeta !== undefined) {
    const given = `${outDir}/${rmeta}`;
    if (await sameContent(given, `${pipeline.out}/${rmeta}`) === false) {
      io.warn(wrapperMessage(
        `${given}, which dependents compiled against, differs from this compile's .rmeta: ` +
          "its metadata action must run again (bazel clean)",
      ));
      return 1;
    }
  }
  if (!names.some((name) => !isRmeta(name) && !name.endsWith(".d"))) {
    io.warn(wrapperMessage(`--incremental-pipelining: rustc left no crate in ${pipeline.out}`));
    return 1;
  }
  return await copyOut(pipeline, outDir, (name) => !isRmeta(name), io);
}

/**
 * Copies rustc's files that `wanted` names from the pipeline's directory to
 * `outDir`, without blocking the worker's other runs (a crate is megabytes).
 */
async function copyOut(
  pipeline: Pipeline,
  outDir: string,
  wanted: (name: string) => boolean,
  io: RunIO,
): Promise<number> {
  try {
    for (const { name, isFile } of Deno.readDirSync(pipeline.out)) {
      if (!isFile || !wanted(name)) continue;
      const target = `${outDir}/${name}`;
      removeIfPresent(target); // A file left read-only by an earlier build.
      await Deno.copyFile(`${pipeline.out}/${name}`, target);
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

function startPipeline(
  root: string,
  key: string,
  plan: ChildPlan,
  outDirIndex: number,
  io: RunIO,
  sinks: { stderr: ByteSink; raw: ByteSink },
  holdAtMetadata: boolean,
  prepare: (args: readonly string[]) => Promise<readonly string[]>,
): Pipeline {
  const stop = new AbortController();
  let announce: (announced: boolean) => void = () => {};
  const metadata = new Promise<boolean>((resolve) => announce = resolve);
  let privateOut: string | undefined;
  const pipeline: Pipeline = {
    root,
    key,
    stop,
    stderr: new HeldOutput(sinks.stderr),
    raw: new HeldOutput(sinks.raw),
    metadata,
    done: run(),
    out: "",
    answered: false,
    detached: false,
    compileJoined: false,
    running: true,
    forget() {
      if (pipelines.get(root) === pipeline) pipelines.delete(root);
      const directory = privateOut;
      privateOut = undefined;
      if (directory === undefined) return;
      (readers.get(root) ?? Promise.resolve()).then(() => {
        try {
          removeIfPresent(directory);
        } catch (error) {
          io.warn(wrapperMessage(`cannot remove ${directory} (${describeError(error)})`));
        }
      });
    },
  };
  // Registered before anything is awaited: a second run for this store finds it.
  pipelines.set(root, pipeline);
  return pipeline;

  async function run(): Promise<number> {
    await Promise.resolve(); // Runs once the pipeline is registered.
    let lease: StoreLease | undefined;
    let rustc: ProcessIdentity | undefined;
    let code = 1;
    try {
      await untilNoDetachedRustc(stop.signal);
      lease = await leaseIncrementalStore(root, key, io.warn, stop.signal);
      if (stop.signal.aborted) return code;
      // Without the store, rustc still must not write Bazel's outputs: a private directory.
      if (lease === undefined) {
        privateOut = Deno.makeTempDirSync({ prefix: "process-wrapper-out-" });
      }
      pipeline.out = privateOut ?? `${root}/out`;
      await readers.get(root);
      if (stop.signal.aborted) return code;
      removeIfPresent(pipeline.out);
      Deno.mkdirSync(pipeline.out, { recursive: true });
      const args = plan.args.with(outDirIndex, `${OUT_DIR}${pipeline.out}`);
      const outcome = await runChild(
        {
          ...plan,
          args: lease ? await prepare([...args, `-Cincremental=${lease.directory}`]) : args,
          output: { format: plan.output.format, quitOnMetadata: false },
        },
        { ...io, childStdout: pipeline.stderr, childStderr: pipeline.stderr, cancel: stop.signal },
        {
          started: (pid) => {
            rustc = processIdentity(pid);
            lease?.childStarted?.(pid);
          },
          stderr: (bytes) => pipeline.raw.push(bytes),
          metadata: () => {
            // The metadata run is answered with what came so far; the rest waits for the compile.
            if (holdAtMetadata) {
              pipeline.stderr.hold();
              pipeline.raw.hold();
              // Its code generation is needed only by its compile and what links it; the dependents
              // it now lets start are on the critical path: under contention, they go first.
              if (rustc !== undefined) lowerPriority(rustc, CODEGEN_NICENESS);
            }
            announce(true);
          },
        },
      );
      code = outcome.code;
      return code;
    } catch (error) {
      // A detached rustc has no run to throw to: every failure is one line and a failed run.
      io.warn(wrapperMessage(
        error instanceof WrapperError
          ? error.message
          : `--incremental-pipelining: ${error instanceof Error ? error.stack : error}`,
      ));
      return 1;
    } finally {
      pipeline.running = false;
      announce(false);
      // A failed or killed rustc is never joined by a later run: it starts anew.
      if (code !== 0 || stop.signal.aborted) pipeline.forget();
      setDetached(pipeline, false);
      try {
        lease?.[Symbol.dispose]();
      } catch (error) {
        io.warn(wrapperMessage(`${root}: cannot release (${describeError(error)})`));
      }
    }
  }
}

/**
 * rustc's output, sent in order to the run attached to it, or held until one
 * attaches. Written from a stream (`write`) or a synchronous tap (`push`).
 */
class HeldOutput implements ByteSink {
  #target: ByteSink | undefined;
  #held: Uint8Array[] = [];
  #written: Promise<void> = Promise.resolve();

  constructor(target: ByteSink) {
    this.#target = target;
  }

  write(bytes: Uint8Array): Promise<number> {
    this.push(bytes);
    return this.#written.then(() => bytes.length);
  }

  /** Takes `bytes` (copied) without waiting for them to be written. */
  push(bytes: Uint8Array): void {
    const copy = bytes.slice();
    const target = this.#target;
    if (target === undefined) this.#held.push(copy);
    else this.#written = this.#written.then(() => writeAll(target, copy));
  }

  /** Holds what comes next (the run it went to is answered). */
  hold(): void {
    this.#target = undefined;
  }

  /** Sends what was held, then everything after it, to `target`. */
  attach(target: ByteSink): Promise<void> {
    const held = this.#held;
    this.#held = [];
    this.#target = target;
    for (const bytes of held) this.#written = this.#written.then(() => writeAll(target, bytes));
    return this.#written;
  }

  /** Resolves once everything sent so far is written. */
  flushed(): Promise<void> {
    return this.#written;
  }
}

/**
 * Whether two files hold the same bytes, read a chunk at a time so that the
 * worker's other runs go on meanwhile (an `.rmeta` is megabytes); undefined
 * when `given` does not exist.
 */
async function sameContent(given: string, produced: string): Promise<boolean | undefined> {
  using givenFile = await openIfPresent(given);
  if (givenFile === undefined) return undefined;
  using producedFile = await Deno.open(produced);
  if ((await givenFile.stat()).size !== (await producedFile.stat()).size) return false;
  const givenChunk = new Uint8Array(CHUNK_BYTES);
  const producedChunk = new Uint8Array(CHUNK_BYTES);
  for (;;) {
    const [givenRead, producedRead] = await Promise.all([
      fill(givenFile, givenChunk),
      fill(producedFile, producedChunk),
    ]);
    if (givenRead !== producedRead) return false;
    if (givenRead === 0) return true;
    const same = Buffer.from(givenChunk.buffer, 0, givenRead)
      .equals(Buffer.from(producedChunk.buffer, 0, producedRead));
    if (!same) return false;
  }
}

async function openIfPresent(path: string): Promise<Deno.FsFile | undefined> {
  try {
    return await Deno.open(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

const CHUNK_BYTES = 1 << 20;

/** Reads into `chunk` until it is full or the file ends; how many bytes it holds. */
async function fill(file: Deno.FsFile, chunk: Uint8Array): Promise<number> {
  let filled = 0;
  while (filled < chunk.length) {
    const read = await file.read(chunk.subarray(filled));
    if (read === null) break;
    filled += read;
  }
  return filled;
}
