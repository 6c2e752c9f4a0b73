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

/** A message to a worker thread. */
export type WorkerRequest =
  | {
    readonly kind: "stat";
    readonly index: number;
    readonly control: SharedArrayBuffer;
    readonly root: string;
    readonly paths: readonly string[];
    readonly sizes: SharedArrayBuffer;
    readonly modes: SharedArrayBuffer;
    readonly uids: SharedArrayBuffer;
  }
  | {
    readonly kind: "place";
    readonly index: number;
    readonly control: SharedArrayBuffer;
    /** One byte per chunk, set once the chunk is wholly placed. */
    readonly done: SharedArrayBuffer;
    readonly source: string;
    readonly destination: string;
    readonly files: Int32Array;
    readonly methods: Uint8Array;
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
  control: Int32Array,
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
 * The files `[start, end)` of a place request, ready for {@linkcode placeFiles}.
 *
 * @example
 * ```ts
 * import { filesToPlace } from "./seed_threads.ts";
 * filesToPlace(["a"], new Int32Array([0]), new Uint8Array([0]), new Int32Array([0o444]), new Float64Array([3]), 0, 1);
 * ```
 */
export function filesToPlace(
  paths: readonly string[],
  files: Int32Array,
  methods: Uint8Array,
  modes: Int32Array<ArrayBufferLike>,
  sizes: Float64Array<ArrayBufferLike>,
  start: number,
  end: number,
): FileToPlace[] {
  const chunk: FileToPlace[] = [];
  for (let i = start; i < end; i++) {
    const file = files[i];
    chunk.push({
      path: paths[file],
      method: METHODS[methods[i]],
      mode: modes[file],
      size: sizes[file],
    });
  }
  return chunk;
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
  #sizes: Float64Array<ArrayBufferLike> = new Float64Array();
  #modes: Int32Array<ArrayBufferLike> = new Int32Array();
  #threads = 1;
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
    return this.#threads;
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
  async #finish(control: Int32Array, answers: Promise<WorkerAnswer | undefined>[]) {
    const joined: WorkerAnswer[] = [];
    for (const [index, answer] of answers.entries()) {
      if (Atomics.load(control, Control.JoinedBase + index) === 0) continue;
      const settled = await answer;
      if (settled === undefined) continue;
      joined.push(settled);
      if (!this.#joined.has(index)) {
        this.#joined.add(index);
        this.#threads++;
      }
    }
    return joined;
  }

  /** Control words for a phase over `total` items. */
  #control(total: number): Int32Array {
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
    const [sizes, modes, uids] = [shared(8), shared(4), shared(4)];
    this.#paths = paths;
    this.#sizes = new Float64Array(sizes);
    this.#modes = new Int32Array(modes);
    const uidOf = new Int32Array(uids);
    const control = this.#control(paths.length);
    const answers = this.#post((index) => ({
      kind: "stat",
      index,
      control: control.buffer as SharedArrayBuffer,
      root,
      paths,
      sizes,
      modes,
      uids,
    }));
    let failure: string | undefined;
    try {
      forEachChunk(control, paths.length, (start, end) => {
        for (let i = start; i < end; i++) {
          const file = statListedFile(root, paths[i]);
          this.#sizes[i] = file.size;
          this.#modes[i] = file.mode;
          uidOf[i] = file.uid;
        }
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
      size: this.#sizes[i],
      mode: this.#modes[i],
      uid: uidOf[i],
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
    const files = Int32Array.from(planned, (file) => file.index);
    const methods = Uint8Array.from(planned, (file) => METHODS.indexOf(file.method));
    const chunk = (start: number, end: number) =>
      filesToPlace(this.#paths, files, methods, this.#modes, this.#sizes, start, end);
    const control = this.#control(files.length);
    const done = new Uint8Array(
      new SharedArrayBuffer(Math.ceil(files.length / control[Control.ChunkSize])),
    );
    const answers = this.#post((index) => ({
      kind: "place",
      index,
      control: control.buffer as SharedArrayBuffer,
      done: done.buffer as SharedArrayBuffer,
      source,
      destination,
      files,
      methods,
    }));
    let failure: string | undefined;
    try {
      forEachChunk(control, files.length, (start, end, chunkNumber) => {
        const partial: string[] = [];
        try {
          placeFiles(source, destination, chunk(start, end), partial, tally);
        } catch (error) {
          created.push(...partial);
          throw error;
        }
        done[chunkNumber] = 1;
      });
    } catch (error) {
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
    for (let i = 0; i < files.length; i++) {
      if (done[Math.floor(i / control[Control.ChunkSize])] === 1) {
        created.push(`${destination}/${this.#paths[files[i]]}`);
      }
    }
    if (failure !== undefined) throw new Error(failure);
    tally.threads = this.#threads;
    return tally;
  }

  /** Stops the worker threads. */
  [Symbol.dispose](): void {
    for (const helper of this.#helpers) helper.worker?.terminate();
  }
}
