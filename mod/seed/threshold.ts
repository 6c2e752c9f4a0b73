/**
 * The seed size threshold (`--seed-min-mb`): below it, linking a seed costs
 * more than rustc saves, so rustc starts cold. Pure.
 *
 * @module
 */

const BYTES_PER_MIB = 1024 * 1024;

/**
 * The threshold in bytes for `--seed-min-mb MIB`.
 *
 * @example
 * ```ts
 * import { thresholdBytes } from "./threshold.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(thresholdBytes(20), 20971520);
 * ```
 */
export function thresholdBytes(minMb: number): number {
  return minMb * BYTES_PER_MIB;
}

/**
 * Whether a seed of `totalBytes` is too small to seed. A seed of exactly the
 * threshold is seeded; `--seed-min-mb 0` always seeds.
 *
 * @example
 * ```ts
 * import { isBelowThreshold } from "./threshold.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(isBelowThreshold(1024 * 1024 - 1, 1), true);
 * assert.deepEqual(isBelowThreshold(1024 * 1024, 1), false);
 * ```
 */
export function isBelowThreshold(totalBytes: number, minMb: number): boolean {
  return totalBytes < thresholdBytes(minMb);
}
