/**
 * Argument handling, pure but for the host it is given: the flag grammar
 * (`flags.ts`), validated options (`options.ts`), the line rules of env, arg,
 * param and status files (`lines.ts`), substitution and stamping
 * (`subst.ts`), and the child's plan (`plan.ts`), which reads the inputs
 * through a {@linkcode PlanHost} (`host.ts` is the real one) and writes
 * nothing.
 *
 * @module
 */

export {
  expandFlagfile,
  FLAG_DEFINITIONS,
  type FlagDefinition,
  type FlagKind,
  FORGOTTEN_SEPARATOR_HINT,
  helpText,
  parseCommandLine,
  type ParsedCommandLine,
  VERSION,
  versionText,
} from "./flags.ts";
export { DEFAULT_SEED_MIN_MB, type Options, type PathPair, resolveOptions } from "./options.ts";
export { parseEnvFile, parseStatusFile, splitLogicalLines } from "./lines.ts";
export {
  type BazelDirectories,
  bazelDirectories,
  resolveSubstitutions,
  stamp,
  substitute,
  type Substitution,
} from "./subst.ts";
export {
  type ChildOutput,
  type ChildPlan,
  isAllowFeaturesFlag,
  planChild,
  type PlanHost,
  type PlannedFile,
} from "./plan.ts";
export {
  MAX_LINE_FILE_BYTES,
  nonUtf8Argument,
  readLineFile,
  startupEnvironment,
  systemHost,
} from "./host.ts";
