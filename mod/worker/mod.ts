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
export { type RunWrapper, serveWorker, type WorkerStreams } from "./serve.ts";
