/**
 * Incremental seeding, loaded only by command lines that seed. From the top:
 * `step.ts` (the flags of one run, the report file) calls
 * `seed_directory.ts` (one SEED into one DEST: threshold, cleanup, report),
 * which lists the tree (`walk.ts`), decides against the threshold
 * (`threshold.ts`), plans what rustc can reuse (`session_plan.ts`) and places
 * the files on several threads (`threads.ts`, over `chunks.ts`, whose helper
 * threads start in `thread_entry.ts`), each file by hard link or copy
 * (`place.ts`: where EXDEV and the other link refusals become copies).
 * `working_directory.ts` keeps rustc from a seed or store made in another
 * working directory, which it would discard at a cost.
 *
 * @module
 */

export { seedForOptions } from "./step.ts";
export { seedDirectory, type SeedReport, type SeedRequest } from "./seed_directory.ts";
export { isDirectory, listTree, type TreeListing } from "./walk.ts";
export { isBelowThreshold, thresholdBytes } from "./threshold.ts";
export {
  type FileMethod,
  type FileOwnership,
  isWritableBy,
  type PlannedSeedFile,
  planSeed,
  type SeedPlan,
  type SeedUser,
  sessionLockName,
} from "./session_plan.ts";
export { COUNT_CHUNK, FILES_PER_THREAD, SeedThreads } from "./threads.ts";
export { copyRegularFile } from "./place.ts";
export {
  incrementalDirectory,
  MADE_IN_FILE,
  reusableHere,
  withoutIncremental,
} from "./working_directory.ts";
