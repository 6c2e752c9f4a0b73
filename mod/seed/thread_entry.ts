/**
 * Entry of a seeding helper thread (see `threads.ts`): answers each count or
 * place request with one {@linkcode ThreadAnswer}, taking chunks from the
 * shared counter. Loading it anywhere but in a worker thread is a mistake:
 * it installs a message handler.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { describeError } from "../errors.ts";
import {
  Control,
  countChunk,
  forEachChunk,
  placeChunk,
  type ThreadAnswer,
  type ThreadRequest,
} from "./chunks.ts";
import { addTally, emptyTally } from "./place.ts";

/** The listed paths, sent with the first request, which later requests refer to by index. */
let paths: readonly string[] = [];

self.onmessage = (event: MessageEvent<ThreadRequest>) => {
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
      forEachChunk(control, paths.length, "back", (range) => {
        countChunk(phase, paths, range, control);
      });
    } else {
      const phase = request.phase;
      forEachChunk(control, phase.files.length, "back", (range) => {
        addTally(tally, placeChunk(phase, paths, range, partial));
      });
    }
  } catch (caught) {
    error = describeError(caught);
  }
  const answer: ThreadAnswer = { tally, error, created: error === null ? [] : partial };
  self.postMessage(answer);
};
