/**
 * The persistent worker: serves Bazel's JSON worker protocol on stdin and
 * stdout, nothing else on stdout. Each request is one whole wrapper run,
 * handled exactly as a one-shot process would handle the same command line.
 *
 * Requests run concurrently (multiplex). A request with a `sandboxDir` runs
 * alone, inside that directory: a process has one working directory, and the
 * wrapper's paths and `${pwd}` are relative to it.
 *
 * @module
 */

import { describeError, MESSAGE_PREFIX } from "../errors.ts";
import { type ByteSink, onStopSignals, type RunIO, writeAll } from "../exec/mod.ts";
import { jsonObjects, parseWorkRequest, type WorkRequest, type WorkResponse } from "./protocol.ts";
import { stopPipelines } from "../store/mod.ts";

/** Runs one wrapper command line with the given I/O and returns its exit code. */
export type RunWrapper = (argv: readonly string[], io: RunIO) => Promise<number>;

/** The worker's streams, injectable for tests. */
export interface WorkerStreams {
  /** Requests. */
  readonly input: ReadableStream<Uint8Array>;
  /** Response lines. */
  readonly output: ByteSink;
  /** The worker's own lines: one per request served, and why it stopped (Bazel's worker log). */
  readonly log: (line: string) => void;
  /**
   * Stop on SIGTERM or SIGINT: kill every run's child, then exit 128 + the signal. Set for the
   * process's own streams; Bazel stops a worker with a signal, and its children must not outlive it.
   */
  readonly stopOnSignals?: boolean;
}

/**
 * The most of a run's output a response carries. Bazel holds every response
 * in memory and shows it; a run printing 100 MB would only make both the
 * worker and Bazel hold it twice. What is beyond is counted and named.
 */
export const MAX_RESPONSE_OUTPUT_BYTES = 16 * 1024 * 1024;

/** Collects a run's output, in order, as bytes, up to {@linkcode MAX_RESPONSE_OUTPUT_BYTES}. */
class OutputBuffer implements ByteSink {
  readonly #chunks: Uint8Array[] = [];
  readonly #encoder = new TextEncoder();
  #kept = 0;
  #dropped = 0;

  write(bytes: Uint8Array): Promise<number> {
    const room = Math.max(0, MAX_RESPONSE_OUTPUT_BYTES - this.#kept);
    const kept = bytes.subarray(0, room);
    if (kept.length > 0) this.#chunks.push(kept.slice());
    this.#kept += kept.length;
    this.#dropped += bytes.length - kept.length;
    return Promise.resolve(bytes.length);
  }

  /** The wrapper's own lines are always kept: they say why a run failed. */
  line(text: string): void {
    this.#chunks.push(this.#encoder.encode(`${text}\n`));
  }

  text(): string {
    const decoder = new TextDecoder();
    const text = this.#chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("") +
      decoder.decode();
    if (this.#dropped === 0) return text;
    return `${text}\n${MESSAGE_PREFIX} worker: output cut at ${MAX_RESPONSE_OUTPUT_BYTES} bytes; ` +
      `${this.#dropped} more bytes dropped\n`;
  }
}

/** Lets at most `limit` holders in at once; the others wait their turn. */
class Slots {
  #free: number;
  readonly #waiters: (() => void)[] = [];

  constructor(limit: number) {
    this.#free = limit;
  }

  async run<T>(body: () => Promise<T>): Promise<T> {
    while (this.#free === 0) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#free--;
    try {
      return await body();
    } finally {
      this.#free++;
      this.#waiters.shift()?.();
    }
  }
}

/**
 * How many requests run at once. Bazel sends a multiplex worker up to
 * `--worker_max_multiplex_instances` requests (8 by default); each run holds
 * a child and its pipes, so the rest wait rather than run out of processes or
 * file descriptors.
 */
export const MAX_CONCURRENT_RUNS = Math.max(4, 2 * navigator.hardwareConcurrency);

/**
 * Lets many shared holders in at once, or one exclusive holder alone: runs in
 * the worker's directory share it; a run in a sandbox directory changes it.
 */
class DirectoryLock {
  #shared = 0;
  #exclusive = false;
  #waiters: (() => void)[] = [];

  async run<T>(exclusive: boolean, body: () => Promise<T>): Promise<T> {
    while (this.#exclusive || (exclusive && this.#shared > 0)) {
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    if (exclusive) this.#exclusive = true;
    else this.#shared++;
    try {
      return await body();
    } finally {
      if (exclusive) this.#exclusive = false;
      else this.#shared--;
      for (const wake of this.#waiters.splice(0)) wake();
    }
  }
}

/** Makes `sandboxDir` the working directory, or says in one line why it cannot. */
function enterSandbox(sandboxDir: string, output: OutputBuffer): boolean {
  try {
    Deno.chdir(sandboxDir);
    return true;
  } catch (error) {
    output.line(
      `${MESSAGE_PREFIX} error: sandboxDir ${sandboxDir}: cannot enter (${describeError(error)})`,
    );
    return false;
  }
}

/**
 * Serves requests from `streams.input` until it ends, then waits for the runs
 * in flight. Returns the worker's exit code: 0, or 1 after a line whose
 * request id can't be read (no response can be addressed, so the worker stops
 * rather than leave Bazel waiting).
 *
 * @example
 * ```ts ignore
 * // Serves this process's stdin until it ends (what `main.ts --persistent_worker` does).
 * import { serveWorker } from "./serve.ts";
 * import { runOnce } from "../../main.ts";
 * Deno.exit(await serveWorker([], runOnce));
 * ```
 */
export async function serveWorker(
  startupArgs: readonly string[],
  run: RunWrapper,
  streams: WorkerStreams = {
    input: Deno.stdin.readable,
    output: Deno.stdout,
    log: (line) => console.error(line),
    stopOnSignals: true,
  },
): Promise<number> {
  const encoder = new TextEncoder();
  let writing = Promise.resolve();
  // One write per response, one response at a time: lines never interleave.
  const respond = (response: WorkResponse) => {
    const bytes = encoder.encode(JSON.stringify(response) + "\n");
    writing = writing.then(() => writeAll(streams.output, bytes));
    return writing;
  };
  const inFlight = new Map<number, AbortController>();
  const running = new Set<Promise<void>>();
  const lock = new DirectoryLock();
  const slots = new Slots(MAX_CONCURRENT_RUNS);
  const home = Deno.cwd();

  const handle = async (request: WorkRequest, cancel: AbortController) => {
    const output = new OutputBuffer();
    const io: RunIO = {
      childStdout: output,
      childStderr: output,
      warn: (line) => output.line(line),
      stdin: "null",
      forwardSignals: false,
      cancel: cancel.signal,
      keepsChildren: true,
    };
    const { sandboxDir } = request;
    let exitCode: number;
    try {
      exitCode = await slots.run(() =>
        lock.run(sandboxDir !== undefined, async () => {
          if (sandboxDir !== undefined && !enterSandbox(sandboxDir, output)) return 1;
          try {
            return await run([...startupArgs, ...request.arguments], io);
          } finally {
            if (sandboxDir !== undefined) Deno.chdir(home);
          }
        })
      );
    } catch (error) {
      // A bug in one run must not take the worker, or any other run, down.
      output.line(
        `${MESSAGE_PREFIX}: internal error: ${error instanceof Error ? error.stack : error}`,
      );
      exitCode = 1;
    } finally {
      inFlight.delete(request.requestId);
    }
    await respond({
      exitCode,
      output: output.text(),
      requestId: request.requestId,
      ...(cancel.signal.aborted ? { wasCancelled: true } : {}),
    });
    streams.log(
      `${MESSAGE_PREFIX} worker ${Deno.pid}: request ${request.requestId} exit ${exitCode}` +
        (cancel.signal.aborted ? " (cancelled)" : ""),
    );
  };

  using _stopping = streams.stopOnSignals
    ? onStopSignals(async (signal, number) => {
      streams.log(
        `${MESSAGE_PREFIX} worker ${Deno.pid}: ${signal}: stopping ${inFlight.size} run(s)`,
      );
      for (const cancel of inFlight.values()) cancel.abort();
      stopPipelines();
      await Promise.allSettled(running);
      await writing;
      Deno.exit(128 + number);
    })
    : undefined;

  let status = 0;
  for await (const text of jsonObjects(streams.input)) {
    const request = parseWorkRequest(text);
    if ("error" in request) {
      if (request.requestId === undefined) {
        streams.log(`${MESSAGE_PREFIX} worker: unreadable request, stopping: ${request.error}`);
        status = 1;
        break;
      }
      await respond({
        exitCode: 1,
        output: `${MESSAGE_PREFIX} worker: bad request: ${request.error}\n`,
        requestId: request.requestId,
      });
      continue;
    }
    if (request.cancel) {
      // A request already answered is not answered twice.
      inFlight.get(request.requestId)?.abort();
      continue;
    }
    if (inFlight.has(request.requestId)) {
      // Ids are unique among requests in flight; the first keeps its run and its cancel handle.
      await respond({
        exitCode: 1,
        output: `${MESSAGE_PREFIX} worker: request id ${request.requestId} is already in flight\n`,
        requestId: request.requestId,
      });
      continue;
    }
    const cancel = new AbortController();
    inFlight.set(request.requestId, cancel);
    const done = handle(request, cancel);
    running.add(done);
    done.finally(() => running.delete(done));
    // A singleplex worker (id 0) serves one request at a time, as Bazel expects.
    if (request.requestId === 0) await done;
  }
  await Promise.all(running);
  // No request is left to take what a rustc answered for would still write.
  stopPipelines();
  await writing;
  return status;
}
