/**
 * Spreads the two per-file phases of seeding (counting the listed files'
 * bytes against the threshold, then placing them) over this thread and
 * worker threads. The kernel's `lstat(2)` and `link(2)` are most of the cost
 * of seeding, and they run in parallel well: measured on this 2-core
 * machine, two threads link 10k files in 0.55x the time of one.
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
import type { FileMethod, SeedUser } from "./seed_plan.ts";

/** Fewer files than this per thread and a worker's start-up is not repaid. */
export const FILES_PER_THREAD = 2000;

/**
 * Chunks per thread when placing: several, so that threads finish together
 * though a worker starts late. Threads linking into one directory contend
 * for its lock, so this thread takes chunks from the front of the list and
 * the workers from the back: they meet in one directory only at the end.
 */
export const CHUNKS_PER_THREAD = 8;

/** Files per chunk when counting: small, so counting stops soon after the threshold. */
export const COUNT_CHUNK = 256;

/** The most threads seeding uses, this one included. */
export const MAX_THREADS = 8;

/** Methods as numbers, for the typed array sent to workers. */
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
  /** `JoinedBase + i` is set once worker `i` takes part in the phase. */
  JoinedBase: 5,
} as const;

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
  readonly source: string;
  readonly destination: string;
  /** Who must be able to write the objects (`undefined`: nobody here; link them). */
  readonly user: SeedUser | undefined;
  readonly files: Int32Array;
  /** Indices into {@linkcode METHODS}, one per file. */
  readonly methods: Uint8Array;
  /** One byte per chunk, set once the chunk is wholly placed (shared). */
  readonly done: Uint8Array<ArrayBufferLike>;
}

/**
 * A message to a worker thread (typed arrays over shared buffers stay
 * shared). The listed paths come with a worker's first request only.
 */
export type WorkerRequest =
  & {
    readonly index: number;
    readonly control: Int32Array<ArrayBufferLike>;
    readonly paths?: readonly string[];
  }
  & (
    | { readonly kind: "count"; readonly phase: CountPhase }
    | { readonly kind: "place"; readonly phase: PlacePhase }
  );

/** A worker thread's answer to one request. */
export interface WorkerAnswer {
  /** Files placed (zero for a count request). */
  readonly tally: PlaceTally;
  /** Why it stopped, or `null`. */
  readonly error: string | null;
  /** Paths it created in the chunk where it failed (finished chunks are marked in `done`). */
  readonly created: readonly string[];
}

/**
 * Takes chunks of `total` items, from the front of the list or from its
 * back, until none are left or the phase is stopped, and runs `body` on each
 * `[start, end)` (chunk number `chunk`). Every chunk is taken exactly once,
 * by one thread. A throwing `body` stops the phase for every thread.
 *
 * @example
 * ```ts
 * import { Control, forEachChunk } from "./seed_threads.ts";
 * const control = new Int32Array(new SharedArrayBuffer(4 * Control.JoinedBase));
 * control[Control.ChunkSize] = 256;
 * forEachChunk(control, 1000, "front", (start, end) => console.log(start, end));
 * ```
 */
export function forEachChunk(
  control: Int32Array<ArrayBufferLike>,
  total: number,
  side: "front" | "back",
  body: (start: number, end: number, chunk: number) => void,
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
      body(start, Math.min(total, start + size), chunk);
    } catch (error) {
      Atomics.store(control, Control.Stop, 1);
      throw error;
    }
  }
}

/**
 * Counts the bytes of listed files `[start, end)` (`lstat`) into the phase,
 * and stops the phase once the count reaches its limit.
 *
 * @example
 * ```ts
 * import { Control, countChunk } from "./seed_threads.ts";
 * const control = new Int32Array(new SharedArrayBuffer(4 * Control.JoinedBase));
 * const phase = { root: "/etc", counted: new BigInt64Array(1), limit: 1n };
 * countChunk(phase, ["hostname"], 0, 1, control);
 * ```
 *
 * @throws `Deno.errors.NotFound` naming the path of a file that vanished since it was listed.
 */
export function countChunk(
  phase: CountPhase,
  paths: readonly string[],
  start: number,
  end: number,
  control: Int32Array<ArrayBufferLike>,
): void {
  let bytes = 0;
  for (let i = start; i < end; i++) bytes += Deno.lstatSync(`${phase.root}/${paths[i]}`).size;
  const counted = Atomics.add(phase.counted, 0, BigInt(bytes)) + BigInt(bytes);
  if (counted >= phase.limit) Atomics.store(control, Control.Stop, 1);
}

/**
 * Places files `[start, end)` of a place phase (chunk number `chunk`) and
 * marks the chunk done. What it created is in `partial` when it throws.
 *
 * @example
 * ```ts
 * import { placeChunk } from "./seed_threads.ts";
 * import { emptyTally } from "./place_files.ts";
 * const phase = { source: "seed", destination: "dest", user: { uid: 0 }, files: new Int32Array([0]), methods: new Uint8Array([0]), done: new Uint8Array(1) };
 * placeChunk(phase, ["a.bin"], 0, 1, 0, emptyTally(), []);
 * ```
 *
 * @throws the underlying `Deno.errors.*` error (its message names the path).
 */
export function placeChunk(
  phase: PlacePhase,
  paths: readonly string[],
  start: number,
  end: number,
  chunk: number,
  tally: PlaceTally,
  partial: string[],
): void {
  const files: FileToPlace[] = [];
  for (let i = start; i < end; i++) {
    files.push({ path: paths[phase.files[i]], method: METHODS[phase.methods[i]] });
  }
  partial.length = 0;
  placeFiles(phase.source, phase.destination, files, phase.user, partial, tally);
  phase.done[chunk] = 1;
}

interface Helper {
  /** The thread, unless it could not even be created. */
  readonly worker: Worker | undefined;
  /** Answers not yet awaited, in request order. */
  readonly answers: PromiseWithResolvers<WorkerAnswer | undefined>[];
  /** Whether it failed to start; it then answers nothing. */
  dead: boolean;
  /** Whether it was sent the listed paths. */
  hasPaths: boolean;
}

/**
 * This thread plus, for a large tree on a multi-core machine, worker threads,
 * working on one listing's files.
 *
 * @example
 * ```ts
 * import { SeedThreads } from "./seed_threads.ts";
 * import { listTree } from "./walk.ts";
 * const listing = listTree("/tmp");
 * using threads = SeedThreads.forFiles(listing.files);
 * const bytes = await threads.count("/tmp", 20 * 1024 * 1024);
 * ```
 */
export class SeedThreads implements Disposable {
  readonly #paths: readonly string[];
  readonly #helpers: Helper[];
  /** Helpers that took part in any phase. */
  readonly #joined = new Set<number>();

  private constructor(paths: readonly string[], workers: number) {
    this.#paths = paths;
    this.#helpers = Array.from({ length: workers }, () => this.#startHelper());
  }

  /**
   * Threads for seeding the listed `paths`: as many as there are cores, but
   * no more than one per {@linkcode FILES_PER_THREAD} files.
   */
  static forFiles(paths: readonly string[]): SeedThreads {
    const threads = Math.min(
      navigator.hardwareConcurrency || 1,
      MAX_THREADS,
      Math.floor(paths.length / FILES_PER_THREAD),
    );
    return new SeedThreads(paths, Math.max(0, threads - 1));
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
      return { worker, answers: [], dead: true, hasPaths: false };
    }
    const helper: Helper = { worker, answers: [], dead: false, hasPaths: false };
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
      const paths = helper.hasPaths ? undefined : this.#paths;
      helper.hasPaths = true;
      helper.worker!.postMessage({ ...request(index), paths });
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

  /** Control words for a phase in chunks of `chunkSize` items. */
  #control(chunkSize: number): Int32Array<ArrayBufferLike> {
    const control = new Int32Array(
      new SharedArrayBuffer(
        Int32Array.BYTES_PER_ELEMENT * (Control.JoinedBase + this.#helpers.length),
      ),
    );
    control[Control.ChunkSize] = Math.max(1, chunkSize);
    return control;
  }

  /**
   * Counts the listed files' bytes under `root` (`lstat`, in listing
   * order) until `limit` bytes are counted: the whole tree's bytes when it
   * holds fewer, else at least `limit`. A limit of 0 stats nothing.
   *
   * @throws the first failure (its message names the path) once every thread stopped.
   */
  async count(root: string, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    const phase: CountPhase = {
      root,
      counted: new BigInt64Array(new SharedArrayBuffer(BigInt64Array.BYTES_PER_ELEMENT)),
      limit: BigInt(Math.ceil(limit)),
    };
    const control = this.#control(COUNT_CHUNK);
    const answers = this.#post((index) => ({ kind: "count", index, control, phase }));
    let failure: string | undefined;
    try {
      forEachChunk(control, this.#paths.length, "front", (start, end) => {
        countChunk(phase, this.#paths, start, end, control);
      });
    } catch (error) {
      failure = describeError(error);
    }
    for (const answer of await this.#finish(control, answers)) {
      failure ??= answer.error ?? undefined;
    }
    if (failure !== undefined) throw new Error(failure);
    return Number(phase.counted[0]);
  }

  /**
   * Places the planned files, given by their index in the listed paths.
   * Every path created is in `created` when this returns or throws, so a
   * caller can remove exactly what was made.
   *
   * @throws the first failure (its message names the path) once every thread stopped.
   */
  async place(
    source: string,
    destination: string,
    planned: readonly { readonly index: number; readonly method: FileMethod }[],
    user: SeedUser | undefined,
    created: string[],
  ): Promise<PlaceTally> {
    const tally = emptyTally();
    const threads = this.#helpers.length + 1;
    const control = this.#control(Math.ceil(planned.length / (threads * CHUNKS_PER_THREAD)));
    const chunkSize = control[Control.ChunkSize];
    const phase: PlacePhase = {
      source,
      destination,
      user,
      files: Int32Array.from(planned, (file) => file.index),
      methods: Uint8Array.from(planned, (file) => METHODS.indexOf(file.method)),
      done: new Uint8Array(new SharedArrayBuffer(Math.ceil(planned.length / chunkSize))),
    };
    const answers = this.#post((index) => ({ kind: "place", index, control, phase }));
    let failure: string | undefined;
    const partial: string[] = [];
    try {
      forEachChunk(control, planned.length, "front", (start, end, chunk) => {
        placeChunk(phase, this.#paths, start, end, chunk, tally, partial);
      });
    } catch (error) {
      created.push(...partial);
      failure = describeError(error);
    }
    for (const answer of await this.#finish(control, answers)) {
      tally.linked += answer.tally.linked;
      tally.copied += answer.tally.copied;
      tally.bytesCopied += answer.tally.bytesCopied;
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
