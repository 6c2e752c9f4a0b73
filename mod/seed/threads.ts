/**
 * Spreads the two per-file phases of seeding (counting the listed files'
 * bytes against the threshold, then placing them) over this thread and
 * helper threads. The kernel's `lstat(2)` and `link(2)` are most of the cost
 * of seeding, and they run in parallel well (the benchmark's seeding table
 * shows the wrapper against `cp -al`).
 *
 * Work is handed out in chunks from a shared counter (`chunks.ts`), so a
 * helper still starting (~15 ms) simply joins late, and a helper that cannot
 * start at all costs nothing: this thread does every chunk itself.
 *
 * @module
 */

import { describeError } from "../errors.ts";
import {
  type Chunk,
  Control,
  type ControlWords,
  controlWords,
  countChunk,
  type CountPhase,
  forEachChunk,
  METHODS,
  placeChunk,
  type PlacePhase,
  type ThreadAnswer,
  type ThreadRequest,
} from "./chunks.ts";
import { addTally, emptyTally, type PlaceTally } from "./place.ts";
import type { FileMethod, SeedUser } from "./session_plan.ts";

/**
 * File descriptors to keep free per helper thread: one takes 6 here, and Deno
 * panics, uncatchably, when a thread cannot get them (a low `ulimit -n`).
 */
const DESCRIPTORS_PER_HELPER = 16;

/** How many helpers the open-file limit leaves room for, keeping a helper's share for this thread. */
function helpersDescriptorsAllow(): number {
  try {
    const limit = /^Max open files\s+(\S+)/m.exec(Deno.readTextFileSync("/proc/self/limits"))?.[1];
    if (limit === undefined || limit === "unlimited") return Infinity;
    const open = [...Deno.readDirSync("/proc/self/fd")].length;
    return Math.floor((Number(limit) - open) / DESCRIPTORS_PER_HELPER) - 1;
  } catch {
    return Infinity; // No /proc: nothing to go by.
  }
}

/** Fewer files than this per thread and a helper's start-up is not repaid. */
export const FILES_PER_THREAD = 2000;

/**
 * Chunks per thread when placing: several, so that threads finish together
 * though a helper starts late. Threads linking into one directory contend
 * for its lock, so this thread takes chunks from the front of the list and
 * the helpers from the back: they meet in one directory only at the end.
 */
const CHUNKS_PER_THREAD = 8;

/** Files per chunk when counting: small, so counting stops soon after the threshold. */
export const COUNT_CHUNK = 256;

/** The most threads seeding uses, this one included. */
const MAX_THREADS = 8;

/** What a place phase did, and every path it created. */
export interface PlaceResult {
  /** Files linked and copied. */
  readonly tally: PlaceTally;
  /** Threads that took part in any phase so far, this one included. */
  readonly threads: number;
}

/** A thrown place failure carries what was created, so a caller can remove exactly that. */
export class PlaceFailure extends Error {
  /** @param created every path created before the failure */
  constructor(message: string, readonly created: readonly string[]) {
    super(message);
    this.name = "PlaceFailure";
  }
}

interface Helper {
  /** The thread, unless it could not even be created. */
  readonly worker: Worker | undefined;
  /** Answers not yet awaited, in request order. */
  readonly answers: PromiseWithResolvers<ThreadAnswer | undefined>[];
  /** Whether it failed to start; it then answers nothing. */
  dead: boolean;
  /** Whether it was sent the listed paths. */
  hasPaths: boolean;
}

/** The outcome of one phase on every thread that joined it. */
interface PhaseOutcome {
  /** The helpers' answers. */
  readonly answers: readonly ThreadAnswer[];
  /** The first failure on any thread. */
  readonly failure: string | undefined;
}

/**
 * This thread plus, for a large tree on a multi-core machine, helper
 * threads, working on one listing's files.
 *
 * @example
 * ```ts
 * import { SeedThreads } from "./threads.ts";
 * import { listTree } from "./walk.ts";
 * import assert from "node:assert/strict";
 * const root = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${root}/a`, "12345");
 * const listing = listTree(root);
 * using threads = SeedThreads.forFiles(listing.files);
 * assert.equal(await threads.count(root, 20 * 1024 * 1024), 5);
 * Deno.removeSync(root, { recursive: true });
 * ```
 */
export class SeedThreads implements Disposable {
  readonly #paths: readonly string[];
  readonly #helpers: Helper[];
  /** Helpers that took part in any phase. */
  readonly #joined = new Set<number>();

  private constructor(paths: readonly string[], helpers: number) {
    this.#paths = paths;
    this.#helpers = Array.from({ length: helpers }, () => this.#startHelper());
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
    const helpers = threads > 1 ? Math.min(threads - 1, helpersDescriptorsAllow()) : 0;
    return new SeedThreads(paths, Math.max(0, helpers));
  }

  /** Threads that took part in any phase so far, this one included. */
  get threads(): number {
    return 1 + this.#joined.size;
  }

  #startHelper(): Helper {
    let worker: Worker | undefined;
    try {
      worker = new Worker(new URL("./thread_entry.ts", import.meta.url).href, { type: "module" });
    } catch {
      return { worker, answers: [], dead: true, hasPaths: false };
    }
    const helper: Helper = { worker, answers: [], dead: false, hasPaths: false };
    worker.onmessage = (event: MessageEvent<ThreadAnswer>) =>
      helper.answers.shift()?.resolve(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      helper.dead = true;
      for (const answer of helper.answers.splice(0)) answer.resolve(undefined);
    };
    return helper;
  }

  /**
   * Runs one phase: every live helper is asked to take chunks from the back
   * while this thread runs `work` on chunks from the front; then waits for
   * the helpers that joined (the others took no chunk).
   */
  async #runPhase(
    control: ControlWords,
    total: number,
    request: (index: number) => ThreadRequest,
    work: (range: Chunk) => void,
  ): Promise<PhaseOutcome> {
    const pending = this.#helpers.map((helper, index) => {
      if (helper.dead) return Promise.resolve(undefined);
      const answer = Promise.withResolvers<ThreadAnswer | undefined>();
      helper.answers.push(answer);
      const paths = helper.hasPaths ? undefined : this.#paths;
      helper.hasPaths = true;
      helper.worker!.postMessage({ ...request(index), paths });
      return answer.promise;
    });
    let failure: string | undefined;
    try {
      forEachChunk(control, total, "front", work);
    } catch (error) {
      failure = describeError(error);
    }
    const answers: ThreadAnswer[] = [];
    for (const [index, answer] of pending.entries()) {
      if (Atomics.load(control, Control.JoinedBase + index) === 0) continue;
      const settled = await answer;
      if (settled === undefined) continue;
      answers.push(settled);
      this.#joined.add(index);
      failure ??= settled.error ?? undefined;
    }
    return { answers, failure };
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
    const control = controlWords(COUNT_CHUNK, this.#helpers.length);
    const { failure } = await this.#runPhase(
      control,
      this.#paths.length,
      (index) => ({ kind: "count", index, control, phase }),
      (range) => countChunk(phase, this.#paths, range, control),
    );
    if (failure !== undefined) throw new Error(failure);
    return Number(phase.counted[0]);
  }

  /**
   * Places the planned files, given by their index in the listed paths.
   *
   * @throws {PlaceFailure} with the first failure (its message names the
   * path) and every path created, once every thread stopped.
   */
  async place(
    source: string,
    destination: string,
    planned: readonly { readonly index: number; readonly method: FileMethod }[],
    user: SeedUser | undefined,
  ): Promise<PlaceResult> {
    const threads = this.#helpers.length + 1;
    const control = controlWords(
      Math.ceil(planned.length / (threads * CHUNKS_PER_THREAD)),
      this.#helpers.length,
    );
    const chunkSize = control[Control.ChunkSize];
    const phase: PlacePhase = {
      source,
      destination,
      user,
      files: Int32Array.from(planned, (file) => file.index),
      methods: Uint8Array.from(planned, (file) => METHODS.indexOf(file.method)),
      done: new Uint8Array(new SharedArrayBuffer(Math.ceil(planned.length / chunkSize))),
    };
    const tally = emptyTally();
    const partial: string[] = [];
    const outcome = await this.#runPhase(
      control,
      planned.length,
      (index) => ({ kind: "place", index, control, phase }),
      (range) => addTally(tally, placeChunk(phase, this.#paths, range, partial)),
    );
    for (const answer of outcome.answers) addTally(tally, answer.tally);
    if (outcome.failure !== undefined) {
      // Whoever placed a finished chunk, every file of it exists now.
      const created = [...partial, ...outcome.answers.flatMap((answer) => answer.created)];
      for (let i = 0; i < planned.length; i++) {
        if (phase.done[Math.floor(i / chunkSize)] === 1) {
          created.push(`${destination}/${this.#paths[phase.files[i]]}`);
        }
      }
      throw new PlaceFailure(outcome.failure, created);
    }
    return { tally, threads: this.threads };
  }

  /** Stops the helper threads. */
  [Symbol.dispose](): void {
    for (const helper of this.#helpers) helper.worker?.terminate();
  }
}
