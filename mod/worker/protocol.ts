/**
 * Bazel's JSON persistent-worker protocol, as data: `WorkRequest` objects on
 * stdin (newline-delimited since Bazel 5, pretty-printed back to back
 * before), one `WorkResponse` line per request on stdout. Pure.
 *
 * @module
 */

import { describeError } from "../errors.ts";

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
 * import { parseWorkRequest } from "./protocol.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseWorkRequest(`{"arguments":["--","/bin/true"],"requestId":3}`), {
 *   arguments: ["--", "/bin/true"],
 *   requestId: 3,
 *   cancel: false,
 *   sandboxDir: undefined,
 * });
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

/**
 * Splits a request stream into JSON objects. Bazel 4 writes requests as
 * pretty-printed JSON, back to back and several lines each (newline-delimited
 * JSON came with Bazel 5), so objects are found by their braces. Text outside
 * any object that is not whitespace is yielded up to its line's end, so that
 * it gets parsed (and answered) as a malformed request.
 *
 * @example
 * ```ts
 * import { jsonObjects } from "./protocol.ts";
 * import assert from "node:assert/strict";
 * const input = ReadableStream.from([new TextEncoder().encode('{"a":\n1}{"b":"}"}')]);
 * assert.deepEqual(await Array.fromAsync(jsonObjects(input)), ['{"a":\n1}', '{"b":"}"}']);
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
