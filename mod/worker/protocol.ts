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
  const scanner = new ObjectScanner();
  for await (const chunk of input) yield* scanner.push(decoder.decode(chunk, { stream: true }));
  yield* scanner.push(decoder.decode());
  const rest = scanner.rest().trim();
  if (rest !== "") yield rest;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const NEWLINE = 0x0a;

/**
 * Finds objects in text that arrives in pieces. Each character is looked at
 * once, and an object's text is joined once, when it ends: a 40 MB request
 * costs what reading 40 MB costs (re-slicing a growing buffer per chunk made
 * it quadratic).
 */
class ObjectScanner {
  /** The current item's text from earlier pieces. */
  #earlier: string[] = [];
  #inItem = false;
  #stray = false;
  #depth = 0;
  #inString = false;
  #escaped = false;

  *push(text: string): Generator<string> {
    let start = 0;
    // Inside a string only a quote or a backslash matters: jump to the next one natively.
    let nextQuote = -1;
    let nextBackslash = -1;
    for (let at = 0; at < text.length; at++) {
      if (this.#inString && !this.#escaped) {
        if (nextQuote < at) nextQuote = text.indexOf('"', at);
        if (nextBackslash < at) nextBackslash = text.indexOf("\\", at);
        if (nextQuote < 0 && nextBackslash < 0) break;
        at = nextQuote < 0
          ? nextBackslash
          : nextBackslash < 0
          ? nextQuote
          : Math.min(nextQuote, nextBackslash);
      }
      const code = text.charCodeAt(at);
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (code === BACKSLASH) this.#escaped = true;
        else if (code === QUOTE) this.#inString = false;
      } else if (this.#stray) {
        if (code === NEWLINE) {
          yield this.#take(text, start, at);
          this.#stray = false;
        }
      } else if (code === OPEN_BRACE) {
        if (this.#depth++ === 0) {
          this.#inItem = true;
          start = at;
        }
      } else if (!this.#inItem) {
        if (!isWhitespace(code)) {
          this.#inItem = true;
          this.#stray = true;
          start = at;
        }
      } else if (code === QUOTE) {
        this.#inString = true;
      } else if (code === CLOSE_BRACE && --this.#depth === 0) {
        yield this.#take(text, start, at + 1);
      }
    }
    if (this.#inItem) this.#earlier.push(text.slice(start));
  }

  /** What is left of an unfinished item at the end of the input. */
  rest(): string {
    return this.#earlier.join("");
  }

  #take(text: string, start: number, end: number): string {
    this.#earlier.push(text.slice(start, end));
    const item = this.#earlier.join("");
    this.#earlier = [];
    this.#inItem = false;
    return item;
  }
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === NEWLINE || code === 0x0d || code === 0x09;
}
