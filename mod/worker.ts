/**
 * Bazel's JSON persistent-worker protocol: `WorkRequest` objects on stdin
 * (newline-delimited since Bazel 5, pretty-printed back to back before), one
 * `WorkResponse` line per request on stdout, and nothing else on stdout. Each request is one whole wrapper run, handled exactly as a
 * one-shot process would handle the same command line.
 *
 * Requests run concurrently (multiplex). A request with a `sandboxDir` runs
 * alone, inside that directory: a process has one working directory, and the
 * wrapper's paths and `${pwd}` are relative to it.
 *
 * @module
 */

import { describeError } from "./errors.ts";
import type { RunIO } from "./run_io.ts";
import { type ByteSink, writeAll } from "./stderr_pump.ts";

/** A request, as far as the wrapper uses it. */
export interface WorkRequest {
  /** The wrapper command line (Bazel has already expanded the flagfile). */
  readonly arguments: readonly string[];
  /** 0 for a singleplex worker. */
  readonly requestId: number;
  /** Cancel the request with this id. */
  readonly cancel: boolean;
  /** Run inside this directory (relative to the worker's). */
  readonly sandboxDir?: string;
}

/** A response line. */
export interface WorkResponse {
  /** The run's exit code. */
  readonly exitCode: number;
  /** Everything the run printed: child stdout and stderr, wrapper messages. */
  readonly output: string;
  /** The request's id. */
  readonly requestId: number;
  /** Set when the request was cancelled. */
  readonly wasCancelled?: boolean;
}

/** Text that is not a usable request: answered when its id could be read. */
export interface MalformedRequest {
  /** What is wrong with it. */
  readonly error: string;
  /** Its id, when one could be read. */
  readonly requestId?: number;
}

/**
 * Parses one request (a JSON object's text). Pure.
 *
 * @example
 * ```ts
 * import { parseWorkRequest } from "./worker.ts";
 * parseWorkRequest('{"arguments":["--","/bin/true"],"requestId":3}');
 * // { arguments: ["--", "/bin/true"], requestId: 3, cancel: false, sandboxDir: undefined }
 * ```
 */
export function parseWorkRequest(line: string): WorkRequest | MalformedRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { error: `not JSON: ${describeError(error)}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { error: "not a JSON object" };
  }
  const fields = value as Record<string, unknown>;
  const requestId = fields.requestId ?? 0;
  if (typeof requestId !== "number" || !Number.isInteger(requestId)) {
    return { error: `requestId ${JSON.stringify(requestId)} is not an integer` };
  }
  const args = fields.arguments ?? [];
  if (!Array.isArray(args) || !args.every((arg) => typeof arg === "string")) {
    return { error: "arguments is not a list of strings", requestId };
  }
  const sandboxDir = fields.sandboxDir;
  if (sandboxDir !== undefined && typeof sandboxDir !== "string") {
    return { error: "sandboxDir is not a string", requestId };
  }
  return {
    arguments: args,
    requestId,
    cancel: fields.cancel === true,
    sandboxDir: sandboxDir === "" ? undefined : sandboxDir,
  };
}

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
}

/** Collects a run's output, in order, as bytes. */
class OutputBuffer implements ByteSink {
  readonly #chunks: Uint8Array[] = [];
  readonly #encoder = new TextEncoder();

  write(bytes: Uint8Array): Promise<number> {
    this.#chunks.push(bytes.slice());
    return Promise.resolve(bytes.length);
  }

  line(text: string): void {
    this.#chunks.push(this.#encoder.encode(`${text}\n`));
  }

  text(): string {
    const decoder = new TextDecoder();
    return this.#chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("") +
      decoder.decode();
  }
}

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

/**
 * Serves requests from `streams.input` until it ends, then waits for the runs
 * in flight. Returns the worker's exit code: 0, or 1 after a line whose
 * request id can't be read (no response can be addressed, so the worker stops
 * rather than leave Bazel waiting).
 *
 * @example
 * ```ts
 * import { serveWorker } from "./worker.ts";
 * import { runOnce } from "../main.ts";
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
  const home = Deno.cwd();

  const handle = async (request: WorkRequest) => {
    const cancel = new AbortController();
    inFlight.set(request.requestId, cancel);
    const output = new OutputBuffer();
    const io: RunIO = {
      childStdout: output,
      childStderr: output,
      warn: (line) => output.line(line),
      stdin: "null",
      forwardSignals: false,
      cancel: cancel.signal,
    };
    const { sandboxDir } = request;
    let exitCode: number;
    try {
      exitCode = await lock.run(sandboxDir !== undefined, async () => {
        if (sandboxDir !== undefined) Deno.chdir(sandboxDir);
        try {
          return await run([...startupArgs, ...request.arguments], io);
        } finally {
          if (sandboxDir !== undefined) Deno.chdir(home);
        }
      });
    } catch (error) {
      // A bug in one run must not take the worker, or any other run, down.
      output.line(
        `process wrapper: internal error: ${error instanceof Error ? error.stack : error}`,
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
      `process wrapper worker ${Deno.pid}: request ${request.requestId} exit ${exitCode}` +
        (cancel.signal.aborted ? " (cancelled)" : ""),
    );
  };

  let status = 0;
  for await (const text of jsonObjects(streams.input)) {
    const request = parseWorkRequest(text);
    if ("error" in request) {
      if (request.requestId === undefined) {
        streams.log(`process wrapper worker: unreadable request, stopping: ${request.error}`);
        status = 1;
        break;
      }
      await respond({
        exitCode: 1,
        output: `process wrapper worker: bad request: ${request.error}\n`,
        requestId: request.requestId,
      });
      continue;
    }
    if (request.cancel) {
      // A request already answered is not answered twice.
      inFlight.get(request.requestId)?.abort();
      continue;
    }
    const done = handle(request);
    running.add(done);
    done.finally(() => running.delete(done));
    // A singleplex worker (id 0) serves one request at a time, as Bazel expects.
    if (request.requestId === 0) await done;
  }
  await Promise.all(running);
  await writing;
  return status;
}

/**
 * Splits a request stream into JSON objects. Bazel 4 writes requests as
 * pretty-printed JSON, back to back and several lines each (newline-delimited
 * JSON came with Bazel 5), so objects are found by their braces. Text outside
 * any object that is not whitespace is yielded up to its line's end, so that
 * it gets parsed (and answered) as a malformed request.
 *
 * @example
 * ```ts
 * import { jsonObjects } from "./worker.ts";
 * const input = ReadableStream.from([new TextEncoder().encode('{"a":\n1}{"b":"}"}')]);
 * for await (const text of jsonObjects(input)) console.log(text); // {"a":\n1} then {"b":"}"}
 * ```
 */
export async function* jsonObjects(input: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  let start = 0; // Where the current object (or stray line) began in `buffer`.
  let scanned = 0;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let stray = false;
  const scan = function* (): Generator<string> {
    for (; scanned < buffer.length; scanned++) {
      const char = buffer[scanned];
      if (stray) {
        if (char === "\n") {
          yield buffer.slice(start, scanned);
          stray = false;
          start = scanned + 1;
        }
      } else if (inString) {
        if (escaped) escaped = false;
        else if (char === "\\") escaped = true;
        else if (char === '"') inString = false;
      } else if (char === '"' && depth > 0) {
        inString = true;
      } else if (char === "{") {
        if (depth++ === 0) start = scanned;
      } else if (char === "}" && depth > 0) {
        if (--depth === 0) {
          yield buffer.slice(start, scanned + 1);
          start = scanned + 1;
        }
      } else if (depth === 0 && !/\s/.test(char)) {
        stray = true;
        start = scanned;
      } else if (depth === 0) {
        start = scanned + 1;
      }
    }
  };
  for await (const chunk of input) {
    buffer += decoder.decode(chunk, { stream: true });
    yield* scan();
    buffer = buffer.slice(start);
    scanned -= start;
    start = 0;
  }
  buffer += decoder.decode();
  yield* scan();
  const rest = buffer.slice(start).trim();
  if (rest !== "") yield rest;
}
