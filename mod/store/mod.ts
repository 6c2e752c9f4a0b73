/**
 * Persistent incremental stores (`--incremental-store`): rustc's state kept
 * across runs outside Bazel's outputs, locked and keyed, and private copies
 * of it for metadata runs (`incremental_store.ts`); one rustc shared by a
 * crate's metadata run and compile (`pipelined.ts`). A one-shot run loads it
 * only for command lines that use a store; the persistent worker loads it at
 * start (it stops the pipelines' rustc when it stops).
 *
 * @module
 */

export {
  childInputs,
  fullDiskWatch,
  leaseIncrementalStore,
  leaseStoreCopy,
  storeKey,
  type StoreLease,
} from "./incremental_store.ts";
export { runPipelined, stopPipelines, untilNoDetachedRustc } from "./pipelined.ts";
