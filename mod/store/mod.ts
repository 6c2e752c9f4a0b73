/**
 * Persistent incremental stores (`--incremental-store`): rustc's state kept
 * across runs outside Bazel's outputs, locked and keyed, and private copies
 * of it for metadata runs (`incremental_store.ts`). Loaded only by command
 * lines that use one.
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
