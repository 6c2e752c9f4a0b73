/**
 * Worker-thread entry of `SeedThreads`: answers each stat or place request
 * with one `WorkerAnswer`, taking chunks from the shared counter. Loading it
 * anywhere but in a worker is a mistake: it installs a message handler.
 *
 * @module
 */

/// <reference lib="deno.worker" />

import { describeError } from "./errors.ts";
import { emptyTally, placeFiles } from "./place_files.ts";
import {
  Control,
  filesToPlace,
  forEachChunk,
  type WorkerAnswer,
  type WorkerRequest,
} from "./seed_threads.ts";
import { statListedFile } from "./walk.ts";

/** The last stat request's files and results, which place requests refer to by index. */
let paths: readonly string[] = [];
let sizes: Float64Array<ArrayBufferLike> = new Float64Array();
let modes: Int32Array<ArrayBufferLike> = new Int32Array();

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  const control = new Int32Array(request.control);
  Atomics.store(control, Control.JoinedBase + request.index, 1);
  const tally = emptyTally();
  const partial: string[] = [];
  let error: string | null = null;
  try {
    if (request.kind === "stat") {
      paths = request.paths;
      sizes = new Float64Array(request.sizes);
      modes = new Int32Array(request.modes);
      const uids = new Int32Array(request.uids);
      forEachChunk(control, paths.length, (start, end) => {
        for (let i = start; i < end; i++) {
          const file = statListedFile(request.root, paths[i]);
          sizes[i] = file.size;
          modes[i] = file.mode;
          uids[i] = file.uid;
        }
      });
    } else {
      const done = new Uint8Array(request.done);
      const { source, destination, files, methods } = request;
      forEachChunk(control, files.length, (start, end, chunkNumber) => {
        partial.length = 0;
        const chunk = filesToPlace(paths, files, methods, modes, sizes, start, end);
        placeFiles(source, destination, chunk, partial, tally);
        done[chunkNumber] = 1;
      });
      partial.length = 0;
    }
  } catch (caught) {
    error = describeError(caught);
  }
  const answer: WorkerAnswer = { tally, error, created: error === null ? [] : partial };
  self.postMessage(answer);
};
