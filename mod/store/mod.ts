/**
 * Persistent incremental stores (`--incremental-store`): rustc's state kept
 * across runs outside Bazel's outputs, locked and keyed
 * (`incremental_store.ts`). Loaded only by command lines that use one.
 *
 * @module
 */

export { leaseIncrementalStore, storeKey, type StoreLease } from "./incremental_store.ts";
