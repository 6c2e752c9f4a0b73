/**
 * Spreads the two per-file phases of seeding (stat'ing the listed files,
 * then placing them) over this thread and worker threads. The kernel's
 * `lstat(2)` and `link(2)` are most of the cost of seeding, and they run in
 * parallel well; measured on this 2-core machine, two threads seed 100k
 * files in 0.6x the time of one.
 *
 * Work is handed out in chunks from a shared counter, so a worker still
 * starting (~15 ms) simply joins late, and a worker that cannot start at all
 * (e.g. a compiled binary built without the worker module) costs nothing:
 * this thread does every chunk itself.
 *
 * @module
 */

import { describeError } from "./errors.ts";
import { emptyTally, type FileToPlace, placeFiles, type PlaceTally } from "./place_files.ts";
import type { FileMethod } from "./seed_plan.ts";
import { statListedFile, type WalkedFile } from "./walk.ts";

/** Fewer files than this per thread and a worker's start-up is not repaid. */
export const FILES_PER_THREAD = 2000;

/**
 * Chunks per thread. Few and large: threads linking into the same directory
 * contend for its lock, so neighbouring files should stay on one thread; but
 * more than one per thread, so a worker that starts late still gets a share.
 */
export const CHUNKS_PER_THREAD = 4;

/** The most threads seeding uses, this one included. */
export const MAX_THREADS = 8;

/** Methods as numbers, for the typed array sent to workers. */
export const METHODS: readonly FileMethod[] = ["link", "writable-copy"];

/** Indices of the shared control words of one phase. */
export const Control = {
  /** The next chunk to hand out. */
  NextChunk: 0,
  /** Set by a thread that failed: the others stop taking chunks. */
  Failed: 1,
  /** Items per chunk. */
  ChunkSize: 2,
  /** `JoinedBase + i` is set once worker `i` takes part in the phase. */
  JoinedBase: 3,
} as const;

/** The stat'ed files' sizes, modes and owners, by listing index, in shared memory. */
export interface FileStats {
  readonly sizes: Float64Array<ArrayBufferLike>;
  readonly modes: Int32Array<ArrayBufferLike>;
  readonly uids: Int32Array<ArrayBufferLike>;
}

/** One place phase; `files` are indices into the stat phase's paths. */
export interface PlacePhase {
  readonly source: string;
  readonly destination: string;
  readonly files: Int32Array;
  /** Indices into {@linkcode METHODS}, one per file. */
  readonly methods: Uint8Array;
  /** One byte per chunk, set once the chunk is wholly placed (shared). */
  readonly done: Uint8Array<ArrayBufferLike>;
}

/** A message to a worker thread (typed arrays over shared buffers stay shared). */
export type WorkerRequest =
  | {
    readonly kind: "stat";
    readonly index: number;
    readonly control: Int32Array<ArrayBufferLike>;
    readonly root: string;
    readonly paths: readonly string[];
    readonly stats: FileStats;
  }
  | {
    readonly kind: "place";
    readonly index: number;
    readonly control: Int32Array<ArrayBufferLike>;
    readonly phase: PlacePhase;
  };

/** A worker thread's answer to one request. */
export interface WorkerAnswer {
  /** Files placed (zero for a stat request). */
  readonly tally: PlaceTally;
  /** Why it stopped, or `null`. */
  readonly error: string | null;
  /** Paths it created in the chunk where it failed (finished chunks are marked in `done`). */
  readonly created: readonly string[];
}

/**
 * Takes chunks of `total` items from the shared counter until none are left
 * or a thread failed, and runs `body` on each `[start, end)` (chunk number `chunk`).
 *
 * @example
 * ```ts
 * import { Control, forEachChunk } from "./seed_threads.ts";
 * const control = new Int32Array(new SharedArrayBuffer(4 * Control.JoinedBase));
 * control[Control.ChunkSize] = 256;
 * forEachChunk(control, 1000, (start, end) => console.log(start, end));
 * ```
 */
export function forEachChunk(
  control: Int32Array<ArrayBufferLike>,
  total: number,
  body: (start: number, end: number, chunk: number) => void,
): void {
  const size = control[Control.ChunkSize];
  while (Atomics.load(control, Control.Failed) === 0) {
    const chunk = Atomics.add(control, Control.NextChunk, 1);
    const start = chunk * size;
    if (start >= total) return;
    try {
      body(start, Math.min(total, start + size), chunk);
    } catch (error) {
      Atomics.store(control, Control.Failed, 1);
      throw error;
    }
  }
}

/**
 * Stats the listed files `[start, end)` into `stats`.
 *
 * @example
 * ```ts
 * import { statChunk } from "./seed_threads.ts";
 * const stats = { sizes: new Float64Array(1), modes: new Int32Array(1), uids: new Int32Array(1) };
 * statChunk("/etc", ["hostname"], stats, 0, 1);
 * ```
 *
 * @throws `Deno.errors.NotFound` naming the path of a file that vanished since it was listed.
 */
export function statChunk(
  root: string,
  paths: readonly string[],
  stats: FileStats,
  start: number,
  end: number,
): void {
  for (let i = start; i < end; i++) {
    const file = statListedFile(root, paths[i]);
    stats.sizes[i] = file.size;
    stats.modes[i] = file.mode;
    stats.uids[i] = file.uid;
  }
}

/**
 * Places files `[start, end)` of a place phase (chunk number `chunk`) and
 * marks the chunk done. What it created is in `partial` when it throws.
 *
 * @example
 * ```ts
 * import { placeChunk } from "./seed_threads.ts";
 * import { emptyTally } from "./place_files.ts";
 * const stats = { sizes: new Float64Array([3]), modes: new Int32Array([0o444]), uids: new Int32Array(1) };
 * const phase = { source: "seed", destination: "dest", files: new Int32Array([0]), methods: new Uint8Array([0]), done: new Uint8Array(1) };
 * placeChunk(phase, ["a.bin"], stats, 0, 1, 0, emptyTally(), []);
 * ```
 *
 * @throws the underlying `Deno.errors.*` error (its message names the path).
 */
export function placeChunk(
  phase: PlacePhase,
  paths: readonly string[],
  stats: FileStats,
  start: number,
  end: number,
  chunk: number,
  tally: PlaceTally,
  partial: string[],
): void {
  const files: FileToPlace[] = [];
  for (let i = start; i < end; i++) {
    const file = phase.files[i];
    files.push({
      path: paths[file],
      method: METHODS[phase.methods[i]],
      mode: stats.modes[file],
      size: stats.sizes[file],
    });
  }
  partial.length = 0;
  placeFiles(phase.source, phase.destination, files, partial, tally);
  phase.done[chunk] = 1;
}

interface Helper {
  /** The thread, unless it could not even be created. */
  readonly worker: Worker | undefined;
  /** Answers not yet awaited, in request order. */
  readonly answers: PromiseWithResolvers<WorkerAnswer | undefined>[];
  /** Whether it failed to start; it then answers nothing. */
  dead: boolean;
}

/**
 * This thread plus, for a large tree on a multi-core machine, worker threads.
 *
 * @example
 * ```ts
 * import { SeedThreads } from "./seed_threads.ts";
 * import { listTree } from "./walk.ts";
 * const listing = listTree("/tmp");
 * using threads = SeedThreads.forFiles(listing.files.length);
 * const files = await threads.stat("/tmp", listing.files);
 * ```
 */
export class SeedThreads implements Disposable {
  readonly #helpers: Helper[];
  #paths: readonly string[] = [];
  #stats: FileStats = {
    sizes: new Float64Array(),
    modes: new Int32Array(),
    uids: new Int32Array(),
  };
  /** Helpers that took part in any phase. */
  readonly #joined = new Set<number>();

  private constructor(workers: number) {
    this.#helpers = Array.from({ length: workers }, () => this.#startHelper());
  }

  /**
   * Threads for seeding `files` files: as many as there are cores, but no
   * more than one per {@linkcode FILES_PER_THREAD} files.
   */
  static forFiles(files: number): SeedThreads {
    const threads = Math.min(
      navigator.hardwareConcurrency || 1,
      MAX_THREADS,
      Math.floor(files / FILES_PER_THREAD),
    );
    return new SeedThreads(Math.max(0, threads - 1));
  }

  /** Threads that took part in any phase so far, this one included. */
  get threads(): number {
    return 1 + this.#joined.size;
  }

  #startHelper(): Helper {
    let worker: Worker | undefined;
    try {
      worker = new Worker(new URL("./seed_worker.ts", import.meta.url).href, { type: "module" });
    } catch {
      return { worker, answers: [], dead: true };
    }
    const helper: Helper = { worker, answers: [], dead: false };
    worker.onmessage = (event: MessageEvent<WorkerAnswer>) =>
      helper.answers.shift()?.resolve(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      helper.dead = true;
      for (const answer of helper.answers.splice(0)) answer.resolve(undefined);
    };
    return helper;
  }

  /** Sends `request(i)` to every live helper and returns what each will answer. */
  #post(request: (index: number) => WorkerRequest) {
    return this.#helpers.map((helper, index) => {
      if (helper.dead) return Promise.resolve(undefined);
      const answer = Promise.withResolvers<WorkerAnswer | undefined>();
      helper.answers.push(answer);
      helper.worker!.postMessage(request(index));
      return answer.promise;
    });
  }

  /** Waits for the helpers that joined this phase (the others took no chunk). */
  async #finish(
    control: Int32Array<ArrayBufferLike>,
    answers: Promise<WorkerAnswer | undefined>[],
  ) {
    const joined: WorkerAnswer[] = [];
    for (const [index, answer] of answers.entries()) {
      if (Atomics.load(control, Control.JoinedBase + index) === 0) continue;
      const settled = await answer;
      if (settled === undefined) continue;
      joined.push(settled);
      this.#joined.add(index);
    }
    return joined;
  }

  /** Control words for a phase over `total` items. */
  #control(total: number): Int32Array<ArrayBufferLike> {
    const control = new Int32Array(
      new SharedArrayBuffer(
        Int32Array.BYTES_PER_ELEMENT * (Control.JoinedBase + this.#helpers.length),
      ),
    );
    const threads = this.#helpers.length + 1;
    control[Control.ChunkSize] = Math.max(1, Math.ceil(total / (threads * CHUNKS_PER_THREAD)));
    return control;
  }

  /**
   * Stats every listed file (`lstat`, in listing order).
   *
   * @throws the first failure (its message names the path) once every thread stopped.
   */
  async stat(root: string, paths: readonly string[]): Promise<WalkedFile[]> {
    const shared = (bytes: number) => new SharedArrayBuffer(bytes * paths.length);
    const stats: FileStats = {
      sizes: new Float64Array(shared(Float64Array.BYTES_PER_ELEMENT)),
      modes: new Int32Array(shared(Int32Array.BYTES_PER_ELEMENT)),
      uids: new Int32Array(shared(Int32Array.BYTES_PER_ELEMENT)),
    };
    this.#paths = paths;
    this.#stats = stats;
    const control = this.#control(paths.length);
    const answers = this.#post((index) => ({ kind: "stat", index, control, root, paths, stats }));
    let failure: string | undefined;
    try {
      forEachChunk(control, paths.length, (start, end) => {
        statChunk(root, paths, stats, start, end);
      });
    } catch (error) {
      failure = describeError(error);
    }
    for (const answer of await this.#finish(control, answers)) {
      failure ??= answer.error ?? undefined;
    }
    if (failure !== undefined) throw new Error(failure);
    return paths.map((path, i) => ({
      path,
      size: stats.sizes[i],
      mode: stats.modes[i],
      uid: stats.uids[i],
    }));
  }

  /**
   * Places the planned files, given by their index in the paths last passed
   * to {@linkcode SeedThreads.stat}. Every path created is in `created` when
   * this returns or throws, so a caller can remove exactly what was made.
   *
   * @throws the first failure (its message names the path) once every thread stopped.
   */
  async place(
    source: string,
    destination: string,
    planned: readonly { readonly index: number; readonly method: FileMethod }[],
    created: string[],
  ): Promise<PlaceTally> {
    const tally = emptyTally();
    const control = this.#control(planned.length);
    const chunkSize = control[Control.ChunkSize];
    const phase: PlacePhase = {
      source,
      destination,
      files: Int32Array.from(planned, (file) => file.index),
      methods: Uint8Array.from(planned, (file) => METHODS.indexOf(file.method)),
      done: new Uint8Array(new SharedArrayBuffer(Math.ceil(planned.length / chunkSize))),
    };
    const answers = this.#post((index) => ({ kind: "place", index, control, phase }));
    let failure: string | undefined;
    const partial: string[] = [];
    try {
      forEachChunk(control, planned.length, (start, end, chunk) => {
        placeChunk(phase, this.#paths, this.#stats, start, end, chunk, tally, partial);
      });
    } catch (error) {
      created.push(...partial);
      failure = describeError(error);
    }
    for (const answer of await this.#finish(control, answers)) {
      tally.linked += answer.tally.linked;
      tally.copied += answer.tally.copied;
      tally.bytes += answer.tally.bytes;
      if (answer.error !== null) failure ??= answer.error;
      created.push(...answer.created);
    }
    // Whoever placed a finished chunk, every file of it exists now.
    for (let i = 0; i < planned.length; i++) {
      if (phase.done[Math.floor(i / chunkSize)] === 1) {
        created.push(`${destination}/${this.#paths[phase.files[i]]}`);
      }
    }
    if (failure !== undefined) throw new Error(failure);
    tally.threads = this.threads;
    return tally;
  }

  /** Stops the worker threads. */
  [Symbol.dispose](): void {
    for (const helper of this.#helpers) helper.worker?.terminate();
  }
}
