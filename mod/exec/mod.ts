/**
 * Running the child and everything around it: starting it (`spawn.ts`),
 * waiting, signals and the exit code (`run_child.ts`), the child's
 * descendants and the stop signals (`process_tree.ts`), streaming stderr
 * (`stderr_pump.ts`) through the
 * rustc JSON policy (`rustc_json.ts`), where a run's output goes
 * (`run_io.ts`), and the files written before and after the child
 * (`output_files.ts`: expanded param files, touch and copy markers, Bazel's
 * unused-inputs list).
 *
 * @module
 */

export { type ChildHooks, type ChildOutcome, OutputFiles, runChild } from "./run_child.ts";
export {
  isRunning,
  lowerPriority,
  onStopSignals,
  type ProcessIdentity,
  processIdentity,
} from "./process_tree.ts";
export {
  ORPHAN_GRACE_MS,
  OrphanGuard,
  type PumpOptions,
  type PumpOutcome,
  pumpStderr,
} from "./stderr_pump.ts";
export {
  classifyRustcLine,
  isLlvmWarning,
  type LineVerdict,
  llvmWarningAsJson,
  type RustcOutputFormat,
} from "./rustc_json.ts";
export { type ByteSink, PROCESS_IO, type RunIO, writeAll } from "./run_io.ts";
export {
  copyOutput,
  touchFile,
  unusedInputsContent,
  writePlannedFiles,
  writeUnusedInputs,
} from "./output_files.ts";
