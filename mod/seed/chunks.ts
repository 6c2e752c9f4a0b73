/**
 * What both sides of a seeding thread boundary run: the shared control
 * words, the chunk loop, the per-chunk work of the two phases (counting
 * bytes, placing files) and the messages between threads. Typed arrays over
 * shared buffers go to worker threads as they are, so every thread sees the
 * same counters.
 *
 * @module
 */

import { type FileToPlace, placeFiles, type PlaceTally } from "./place.ts";
import type { FileMethod, SeedUser } from "./session_plan.ts";

/** Methods as numbers, for the typed array sent to threads. */
export const METHODS: readonly FileMethod[] = ["link", "object"];

/** Indices of the shared control words of one phase. */
export const Control = {
  /** Chunks handed out, from either end. */
  Claimed: 0,
  /** Chunks handed out from the front. */
  FromFront: 1,
  /** Chunks handed out from the back. */
  FromBack: 2,
  /** Set by a thread that failed, or once the count reached its limit: no more chunks. */
  Stop: 3,
  /** Items per chunk. */
  ChunkSize: 4,
  /** `JoinedBase + i` is set once helper thread `i` takes part in the phase. */
  JoinedBase: 5,
} as const;

/** The control words of one phase, shared by every thread. */
export type ControlWords = Int32Array<ArrayBufferLike>;

/**
 * New control words for a phase in chunks of `chunkSize` items, with room
 * for `helpers` helper threads.
 *
 * @example
 * ```ts
 * import { Control, controlWords } from "./chunks.ts";
 * import assert from "node:assert/strict";
 * assert.equal(controlWords(256, 1)[Control.ChunkSize], 256);
 * ```
 */
export function controlWords(chunkSize: number, helpers: number): ControlWords {
  const control = new Int32Array(
    new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT * (Control.JoinedBase + helpers)),
  );
  control[Control.ChunkSize] = Math.max(1, chunkSize);
  return control;
}

/** One count phase: the listed files' bytes, until `limit` is reached. */
export interface CountPhase {
  /** The tree the listed paths are relative to. */
  readonly root: string;
  /** Bytes counted so far (element 0, shared). */
  readonly counted: BigInt64Array<ArrayBufferLike>;
  /** Counting stops once this many bytes are counted. */
  readonly limit: bigint;
}

/** One place phase; `files` are indices into the listed paths. */
export interface PlacePhase {
  /** The seed root. */
  readonly source: string;
  /** The destination root. */
  readonly destination: string;
  /** Who must be able to write the objects (`undefined`: nobody here; link them). */
  readonly user: SeedUser | undefined;
  /** Indices into the listed paths. */
  readonly files: Int32Array;
  /** Indices into {@linkcode METHODS}, one per file. */
  readonly methods: Uint8Array;
  /** One byte per chunk, set once the chunk is wholly placed (shared). */
  readonly done: Uint8Array<ArrayBufferLike>;
}

/**
 * A message to a helper thread. The listed paths come with a helper's first
 * request only.
 */
export type ThreadRequest =
  & {
    /** The helper's number, for its `Control.JoinedBase` word. */
    readonly index: number;
    readonly control: ControlWords;
    readonly paths?: readonly string[];
  }
  & (
    | { readonly kind: "count"; readonly phase: CountPhase }
    | { readonly kind: "place"; readonly phase: PlacePhase }
  );

/** A helper thread's answer to one request. */
export interface ThreadAnswer {
  /** Files placed (zero for a count request). */
  readonly tally: PlaceTally;
  /** Why it stopped, or `null`. */
  readonly error: string | null;
  /** Paths it created in the chunk where it failed (finished chunks are marked in `done`). */
  readonly created: readonly string[];
}

/** One chunk: items `[start, end)`, chunk number `chunk`. */
export interface Chunk {
  readonly start: number;
  readonly end: number;
  readonly chunk: number;
}

/**
 * Takes chunks of `total` items, from the front of the list or from its
 * back, until none are left or the phase is stopped, and runs `body` on
 * each. Every chunk is taken exactly once, by one thread. A throwing `body`
 * stops the phase for every thread.
 *
 * @example
 * ```ts
 * import { controlWords, forEachChunk } from "./chunks.ts";
 * import assert from "node:assert/strict";
 * const seen: number[] = [];
 * forEachChunk(controlWords(256, 0), 1000, "back", ({ start, end }) => seen.push(start, end));
 * assert.deepEqual(seen, [768, 1000, 512, 768, 256, 512, 0, 256]);
 * ```
 */
export function forEachChunk(
  control: ControlWords,
  total: number,
  side: "front" | "back",
  body: (chunk: Chunk) => void,
): void {
  const size = control[Control.ChunkSize];
  const chunks = Math.ceil(total / size);
  while (Atomics.load(control, Control.Stop) === 0) {
    // Claiming first bounds the front and back chunks to `chunks` together: they never overlap.
    if (Atomics.add(control, Control.Claimed, 1) >= chunks) return;
    const chunk = side === "front"
      ? Atomics.add(control, Control.FromFront, 1)
      : chunks - 1 - Atomics.add(control, Control.FromBack, 1);
    const start = chunk * size;
    try {
      body({ start, end: Math.min(total, start + size), chunk });
    } catch (error) {
      Atomics.store(control, Control.Stop, 1);
      throw error;
    }
  }
}

/**
 * Counts the bytes of listed files in `range` (`lstat`) into the phase, and
 * stops the phase once the count reaches its limit.
 *
 * @example
 * ```ts
 * import { Control, controlWords, countChunk } from "./chunks.ts";
 * import assert from "node:assert/strict";
 * const root = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${root}/a`, "12345");
 * const control = controlWords(1, 0);
 * const phase = { root, counted: new BigInt64Array(1), limit: 5n };
 * countChunk(phase, ["a"], { start: 0, end: 1, chunk: 0 }, control);
 * assert.equal(phase.counted[0], 5n);
 * assert.equal(control[Control.Stop], 1); // the limit is reached
 * Deno.removeSync(root, { recursive: true });
 * ```
 *
 * @throws `Deno.errors.NotFound` naming the path of a file that vanished since it was listed.
 */
export function countChunk(
  phase: CountPhase,
  paths: readonly string[],
  range: Chunk,
  control: ControlWords,
): void {
  let bytes = 0;
  for (let i = range.start; i < range.end; i++) {
    bytes += Deno.lstatSync(`${phase.root}/${paths[i]}`).size;
  }
  const counted = Atomics.add(phase.counted, 0, BigInt(bytes)) + BigInt(bytes);
  if (counted >= phase.limit) Atomics.store(control, Control.Stop, 1);
}

/**
 * Places the files of `range` and marks the chunk done. What it created is
 * in `partial` (emptied first) when it throws.
 *
 * @example
 * ```ts
 * import { placeChunk } from "./chunks.ts";
 * import assert from "node:assert/strict";
 * const source = Deno.makeTempDirSync();
 * const destination = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${source}/a.bin`, "state");
 * const phase = {
 *   source, destination, user: undefined,
 *   files: new Int32Array([0]), methods: new Uint8Array([0]), done: new Uint8Array(1),
 * };
 * const tally = placeChunk(phase, ["a.bin"], { start: 0, end: 1, chunk: 0 }, []);
 * assert.equal(tally.linked, 1);
 * assert.equal(phase.done[0], 1);
 * Deno.removeSync(source, { recursive: true });
 * Deno.removeSync(destination, { recursive: true });
 * ```
 *
 * @throws the underlying `Deno.errors.*` error (its message names the path).
 */
export function placeChunk(
  phase: PlacePhase,
  paths: readonly string[],
  range: Chunk,
  partial: string[],
): PlaceTally {
  const files: FileToPlace[] = [];
  for (let i = range.start; i < range.end; i++) {
    files.push({ path: paths[phase.files[i]], method: METHODS[phase.methods[i]] });
  }
  partial.length = 0;
  const { source, destination, user } = phase;
  const tally = placeFiles({ source, destination, user, created: partial }, files);
  phase.done[range.chunk] = 1;
  return tally;
}
