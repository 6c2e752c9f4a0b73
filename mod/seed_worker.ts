/**
 * Worker-thread entry of `SeedThreads`: answers each stat or place request
 * with one `WorkerAnswer`, taking chunks from the shared counter. Loading it
 * anywhere but in a worker is a mistake: it installs a message handler.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { describeError } from "./errors.ts";
import { emptyTally } from "./place_files.ts";
import {
  Control,
  type FileStats,
  forEachChunk,
  placeChunk,
  statChunk,
  type WorkerAnswer,
  type WorkerRequest,
} from "./seed_threads.ts";

/** The last stat request's files and results, which place requests refer to by index. */
let paths: readonly string[] = [];
let stats: FileStats = {
  sizes: new Float64Array(),
  modes: new Int32Array(),
  uids: new Int32Array(),
};

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  const control = request.control;
  Atomics.store(control, Control.JoinedBase + request.index, 1);
  const tally = emptyTally();
  const partial: string[] = [];
  let error: string | null = null;
  try {
    if (request.kind === "stat") {
      ({ paths, stats } = request);
      forEachChunk(control, paths.length, (start, end) => {
        statChunk(request.root, paths, stats, start, end);
      });
    } else {
      forEachChunk(control, request.phase.files.length, (start, end, chunk) => {
        placeChunk(request.phase, paths, stats, start, end, chunk, tally, partial);
      });
    }
  } catch (caught) {
    error = describeError(caught);
  }
  const answer: WorkerAnswer = { tally, error, created: error === null ? [] : partial };
  self.postMessage(answer);
};
