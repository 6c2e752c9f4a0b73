/**
 * Worker-thread entry of `SeedThreads`: answers each count or place request
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
  countChunk,
  forEachChunk,
  placeChunk,
  type WorkerAnswer,
  type WorkerRequest,
} from "./seed_threads.ts";

/** The listed paths, sent with the first request, which later requests refer to by index. */
let paths: readonly string[] = [];

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  const control = request.control;
  Atomics.store(control, Control.JoinedBase + request.index, 1);
  if (request.paths !== undefined) paths = request.paths;
  const tally = emptyTally();
  const partial: string[] = [];
  let error: string | null = null;
  try {
    if (request.kind === "count") {
      const phase = request.phase;
      forEachChunk(control, paths.length, "back", (start, end) => {
        countChunk(phase, paths, start, end, control);
      });
    } else {
      const phase = request.phase;
      forEachChunk(control, phase.files.length, "back", (start, end, chunk) => {
        placeChunk(phase, paths, start, end, chunk, tally, partial);
      });
    }
  } catch (caught) {
    error = describeError(caught);
  }
  const answer: WorkerAnswer = { tally, error, created: error === null ? [] : partial };
  self.postMessage(answer);
};
