/**
 * Streams a child's stderr to its destinations as it arrives: forwarded
 * as-is, or line by line through {@linkcode classifyRustcLine}. Holds at most
 * one incomplete line in memory, never the whole output, and reads and
 * encodes into reused buffers: with a fresh buffer per chunk (the default
 * reader), the process's memory grew with the size of the output (54 to
 * 64 MiB from 21 to 170 MB of stderr, measured), though nothing was kept.
 *
 * @module
 */

import { type ByteSink, writeAll } from "./run_io.ts";
import { classifyRustcLine, type RustcOutputFormat } from "./rustc_json.ts";

/** How to pump one child's stderr. */
export interface PumpOptions {
  /** Where processed (or forwarded) output goes. */
  readonly forward: ByteSink;
  /** Where every raw byte is also copied (`--output-file`). */
  readonly raw?: ByteSink;
  /** Process rustc JSON diagnostics in this format; forward as-is when absent. */
  readonly format?: RustcOutputFormat;
  /** Stop at the metadata artifact notification (`--rustc-quit-on-rmeta`). */
  readonly quitOnMetadata: boolean;
  /** Called at the metadata artifact notification when reading goes on. */
  readonly onMetadata?: () => void;
  /** Ends reads that only processes the child left behind keep waiting. */
  readonly guard?: OrphanGuard;
}

/**
 * How long a pipe may stay silent once the child has exited. Then its last
 * writers are processes the child left behind (orphaned before any signal,
 * they are not among its descendants), which may hold it for as long as they
 * live: reading stops. What the child wrote is already in the pipe and is read
 * at once; a deadline only runs while a read waits, never while output is
 * being written on.
 */
export const ORPHAN_GRACE_MS = 1000;

/** A reader a guarded read can end. */
interface Cancellable {
  cancel(): Promise<void>;
}

/**
 * Ends the reads of a child's pipes that still wait `graceMs` after the
 * child has `exited`, by cancelling their readers (the read then reports
 * the end of the stream). No timer runs while the child lives or once no
 * read waits: the first timer call (even `clearTimeout(undefined)`) costs a
 * Deno process about 4 ms (measured), so reads are awaited directly and
 * watched from the side.
 *
 * @example
 * ```ts
 * import { OrphanGuard } from "./stderr_pump.ts";
 * import assert from "node:assert/strict";
 * const guard = new OrphanGuard(Promise.resolve(), 10);
 * const silent = new ReadableStream<Uint8Array>().getReader(); // a writer that never writes
 * assert.equal((await guard.read(silent, () => silent.read())).done, true);
 * ```
 */
export class OrphanGuard {
  readonly #graceMs: number;
  /** Each waiting read's reader, and when the read began. */
  readonly #waiting = new Map<Cancellable, number>();
  #exited = false;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(exited: Promise<unknown>, graceMs = ORPHAN_GRACE_MS) {
    this.#graceMs = graceMs;
    exited.then(() => {
      this.#exited = true;
      this.#watch();
    });
  }

  /** Runs `read` on `reader`, ended by cancelling `reader` when it waits too long. */
  async read<T>(reader: Cancellable, read: () => Promise<T>): Promise<T> {
    this.#waiting.set(reader, performance.now());
    this.#watch();
    try {
      return await read();
    } finally {
      this.#waiting.delete(reader);
      // Even clearTimeout(undefined) costs a Deno process milliseconds (measured): only with a timer.
      if (this.#waiting.size === 0 && this.#timer !== undefined) {
        clearTimeout(this.#timer);
        this.#timer = undefined;
      }
    }
  }

  #watch(): void {
    if (!this.#exited || this.#timer !== undefined || this.#waiting.size === 0) return;
    const oldest = Math.min(...this.#waiting.values());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const now = performance.now();
      for (const [reader, since] of this.#waiting) {
        if (now - since < this.#graceMs) continue;
        this.#waiting.delete(reader);
        reader.cancel().catch(() => {});
      }
      this.#watch();
    }, Math.max(0, oldest + this.#graceMs - performance.now()));
  }
}

/** How pumping ended. */
export interface PumpOutcome {
  /** Stopped at the metadata notification; the rest of the stream was not read. */
  readonly stoppedAtMetadata: boolean;
  /** A line was not JSON: it and the rest were forwarded as-is. */
  readonly invalidLine?: string;
}

const NEWLINE = 0x0a;

/** Bytes read from the child at a time. */
const CHUNK_BYTES = 64 * 1024;

/** Reads a byte stream chunk by chunk; a chunk is valid until the next `read`. */
interface ChunkReader {
  /** The next chunk, or `undefined` at the end of the stream. */
  read(): Promise<Uint8Array | undefined>;
}

function chunkReader(reader: ReadableStreamBYOBReader, guard?: OrphanGuard): ChunkReader {
  let buffer = new Uint8Array(CHUNK_BYTES);
  return {
    async read() {
      const { done, value } = guard
        ? await guard.read(reader, () => reader.read(buffer))
        : await reader.read(buffer);
      if (done || value === undefined) return undefined;
      // The read took the buffer over; the chunk's memory is the next read's buffer.
      buffer = new Uint8Array(value.buffer);
      return value;
    },
  };
}

/**
 * Reads `stream` (a byte stream, as a child's stderr is) to its end (or to
 * the metadata notification) and writes what the options ask for.
 *
 * @example
 * ```ts
 * import { pumpStderr } from "./stderr_pump.ts";
 * import assert from "node:assert/strict";
 * const lines = ['{"rendered":"warning: x\\n"}', '{"$message_type":"artifact","emit":"link"}'];
 * const script = `printf '%s\\n' '${lines.join("' '")}' >&2`;
 * const child = new Deno.Command("/bin/sh", { args: ["-c", script], stderr: "piped" }).spawn();
 * let printed = "";
 * const forward = {
 *   write(bytes: Uint8Array) {
 *     printed += new TextDecoder().decode(bytes);
 *     return Promise.resolve(bytes.length);
 *   },
 * };
 * const outcome = await pumpStderr(child.stderr, { forward, format: "rendered", quitOnMetadata: false });
 * await child.status;
 * assert.equal(printed, "warning: x\n");
 * assert.equal(outcome.stoppedAtMetadata, false);
 * ```
 */
export async function pumpStderr(
  stream: ReadableStream<Uint8Array>,
  options: PumpOptions,
): Promise<PumpOutcome> {
  const reader = stream.getReader({ mode: "byob" });
  try {
    const chunks = chunkReader(reader, options.guard);
    if (options.format === undefined) {
      await copyRest(chunks, options);
      return { stoppedAtMetadata: false };
    }
    return await processLines(chunks, options, options.format);
  } finally {
    reader.releaseLock();
  }
}

async function copyRest(chunks: ChunkReader, options: PumpOptions): Promise<void> {
  for (let chunk = await chunks.read(); chunk; chunk = await chunks.read()) {
    if (options.raw) await writeAll(options.raw, chunk);
    await writeAll(options.forward, chunk);
  }
}

async function processLines(
  chunks: ChunkReader,
  options: PumpOptions,
  format: RustcOutputFormat,
): Promise<PumpOutcome> {
  const decoder = new TextDecoder();
  const encode = reusingEncoder();
  let partial: Uint8Array[] = [];
  let partialLength = 0;

  for (;;) {
    const read = await chunks.read();
    const done = read === undefined;
    // The last line may lack a newline; treat end of stream as one.
    const chunk = read ?? Uint8Array.of(NEWLINE);
    if (done && partialLength === 0) return { stoppedAtMetadata: false };
    let printed = "";
    let lineStart = 0;
    // How much of this chunk `raw` has: up to a metadata notification, before the hook is told.
    let rawFrom = 0;
    for (let end = chunk.indexOf(NEWLINE); end >= 0; end = chunk.indexOf(NEWLINE, lineStart)) {
      const lineBytes = joinBytes(partial, partialLength, chunk.subarray(lineStart, end));
      partial = [];
      partialLength = 0;
      const line = decoder.decode(lineBytes);
      const verdict = classifyRustcLine(line, format, !done);
      if (verdict.kind === "invalid") {
        if (options.raw && !done) await writeAll(options.raw, chunk.subarray(rawFrom));
        await writeAll(options.forward, encode(printed));
        await writeAll(options.forward, lineBytes);
        await writeAll(options.forward, done ? chunk.subarray(0, 0) : chunk.subarray(end));
        if (!done) await copyRest(chunks, options);
        return { stoppedAtMetadata: false, invalidLine: line };
      }
      if (verdict.kind === "print") printed += verdict.text;
      if (verdict.kind === "metadata" && !options.quitOnMetadata) {
        // What came up to the notification is out first: it belongs to the metadata's run.
        if (options.raw && !done) await writeAll(options.raw, chunk.subarray(rawFrom, end + 1));
        rawFrom = end + 1;
        await writeAll(options.forward, encode(printed));
        printed = "";
        options.onMetadata?.();
      }
      if (verdict.kind === "metadata" && options.quitOnMetadata) {
        // Earlier chunks are already in `raw`; at end of stream this chunk is synthetic.
        if (options.raw && !done) await writeAll(options.raw, chunk.subarray(0, end + 1));
        await writeAll(options.forward, encode(printed));
        return { stoppedAtMetadata: true };
      }
      lineStart = end + 1;
    }
    if (done) {
      await writeAll(options.forward, encode(printed));
      return { stoppedAtMetadata: false };
    }
    if (options.raw) await writeAll(options.raw, chunk.subarray(rawFrom));
    if (printed !== "") await writeAll(options.forward, encode(printed));
    if (lineStart < chunk.length) {
      partial.push(chunk.slice(lineStart));
      partialLength += chunk.length - lineStart;
    }
  }
}

/**
 * A UTF-8 encoder writing into one reused buffer; what it returns is valid
 * until its next call. A fresh array per call (`TextEncoder.encode`) made
 * the process grow from 57 to 90 MiB between 200k and 1.6M lines, measured.
 */
function reusingEncoder(): (text: string) => Uint8Array {
  const encoder = new TextEncoder();
  let buffer = new Uint8Array(CHUNK_BYTES);
  return (text) => {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8.
    if (buffer.length < text.length * 3) buffer = new Uint8Array(text.length * 3);
    return buffer.subarray(0, encoder.encodeInto(text, buffer).written);
  };
}

function joinBytes(parts: Uint8Array[], length: number, last: Uint8Array): Uint8Array {
  if (parts.length === 0) return last;
  const joined = new Uint8Array(length + last.length);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.length;
  }
  joined.set(last, offset);
  return joined;
}
