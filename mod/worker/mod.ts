/**
 * The persistent worker: Bazel's JSON protocol as data (`protocol.ts`) and
 * the server that turns each request into one wrapper run (`serve.ts`).
 *
 * @module
 */

export {
  jsonObjects,
  type MalformedRequest,
  parseWorkRequest,
  type WorkRequest,
  type WorkResponse,
} from "./protocol.ts";
export {
  MAX_CONCURRENT_RUNS,
  MAX_RESPONSE_OUTPUT_BYTES,
  type RunWrapper,
  serveWorker,
  type WorkerStreams,
} from "./serve.ts";
