/**
 * Turns the flags the grammar collected into typed, validated options.
 *
 * Pure: every check here looks only at the command line, so a bad command
 * line is rejected before anything is read or written.
 *
 * @module
 */

import { WrapperError } from "../errors.ts";
import type { RustcOutputFormat } from "../exec/rustc_json.ts";
import { FORGOTTEN_SEPARATOR_HINT, type ParsedCommandLine } from "./flags.ts";
import type { Substitution } from "./subst.ts";

/** A `(source, destination)` pair from one of the pair flags. */
export interface PathPair {
  /** The first value of the pair. */
  readonly source: string;
  /** The second value of the pair. */
  readonly destination: string;
}

/** The default of `--seed-min-mb`, as in rules_rust's `incremental_seed_threshold_mb`. */
export const DEFAULT_SEED_MIN_MB = 20;

/** Everything a command line asks for, validated. */
export interface Options {
  /** The child program and its arguments as given after `--`. */
  readonly child: readonly string[];
  /** `--subst` entries in command-line order. */
  readonly substitutions: readonly Substitution[];
  /** `--out-dir`. */
  readonly outDir?: string;
  /** `--env-file`s in order. */
  readonly envFiles: readonly string[];
  /** `--arg-file`s in order. */
  readonly argFiles: readonly string[];
  /** `--stable-status-file`. */
  readonly stableStatusFile?: string;
  /** `--volatile-status-file`. */
  readonly volatileStatusFile?: string;
  /** `--require-explicit-unstable-features true`. */
  readonly requireExplicitUnstableFeatures: boolean;
  /** `--stdout-file`. */
  readonly stdoutFile?: string;
  /** `--stderr-file`. */
  readonly stderrFile?: string;
  /** `--output-file`. */
  readonly outputFile?: string;
  /** `--touch-file`. */
  readonly touchFile?: string;
  /** `--copy-output SRC DST`. */
  readonly copyOutput?: PathPair;
  /** `--rustc-output-format`; also `rendered` when only quit-on-rmeta asks for processing. */
  readonly rustcOutputFormat?: RustcOutputFormat;
  /** `--rustc-quit-on-rmeta true`. */
  readonly rustcQuitOnRmeta: boolean;
  /** `--seed-prev-dir PREV DEST`. */
  readonly seedPrevDir?: PathPair;
  /** `--copy-seed SEED DEST`. */
  readonly copySeed?: PathPair;
  /** `--seed-min-mb`, in MiB. */
  readonly seedMinMb: number;
  /** `--seed-report`. */
  readonly seedReport?: string;
  /** `--write-unused-inputs FILE INPUT`. */
  readonly writeUnusedInputs?: PathPair;
  /** `--exit-early true`. */
  readonly exitEarly: boolean;
  /** `--incremental-store DIR`, `${KEY}`s not yet substituted. */
  readonly incrementalStore?: string;
  /** `--incremental-pipelining true`: the metadata run and the compile share one rustc. */
  readonly incrementalPipelining: boolean;
}

/**
 * Validates a parsed command line into {@linkcode Options}.
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./flags.ts";
 * import { resolveOptions } from "./options.ts";
 * import assert from "node:assert/strict";
 * const options = resolveOptions(parseCommandLine(["--subst", "pwd=${pwd}", "--", "rustc"]));
 * assert.deepEqual(options.substitutions, [{ key: "pwd", value: "${pwd}" }]);
 * ```
 *
 * @throws {WrapperError} naming the flag whose value is wrong.
 */
export function resolveOptions(parsed: ParsedCommandLine): Options {
  const single = (name: string) => parsed.flags.get(name)?.[0];
  const all = (name: string) => parsed.flags.get(name) ?? [];
  const isTrue = (name: string) => single(name) === "true";

  const exitEarly = isTrue("--exit-early");

  const copyOutput = pairOf(parsed, "--copy-output");
  if (copyOutput && copyOutput.source === copyOutput.destination) {
    throw new WrapperError(
      `"--copy-output" source (${copyOutput.source}) and dest (${copyOutput.destination}) need to be different`,
    );
  }

  const formatValue = single("--rustc-output-format");
  if (formatValue !== undefined && formatValue !== "json" && formatValue !== "rendered") {
    throw new WrapperError(
      `invalid --rustc-output-format '${formatValue}' (expected json or rendered)`,
    );
  }
  const rustcQuitOnRmeta = isTrue("--rustc-quit-on-rmeta");
  const incrementalStore = single("--incremental-store");
  const incrementalPipelining = isTrue("--incremental-pipelining");
  if (incrementalPipelining && incrementalStore === undefined) {
    throw new WrapperError('"--incremental-pipelining" needs "--incremental-store"');
  }
  // Upstream's older wrapper defaulted to `rendered` when only quit-on-rmeta was
  // given; keep accepting that command line.
  const rustcOutputFormat = formatValue ?? (rustcQuitOnRmeta ? "rendered" : undefined);

  return {
    child: parsed.child,
    substitutions: all("--subst").map(parseSubstitution),
    outDir: single("--out-dir"),
    envFiles: all("--env-file"),
    argFiles: all("--arg-file"),
    stableStatusFile: single("--stable-status-file"),
    volatileStatusFile: single("--volatile-status-file"),
    requireExplicitUnstableFeatures: isTrue("--require-explicit-unstable-features"),
    stdoutFile: single("--stdout-file"),
    stderrFile: single("--stderr-file"),
    outputFile: single("--output-file"),
    touchFile: single("--touch-file"),
    copyOutput,
    rustcOutputFormat,
    rustcQuitOnRmeta,
    seedPrevDir: pairOf(parsed, "--seed-prev-dir"),
    copySeed: pairOf(parsed, "--copy-seed"),
    seedMinMb: parseSeedMinMb(single("--seed-min-mb")),
    seedReport: single("--seed-report"),
    writeUnusedInputs: pairOf(parsed, "--write-unused-inputs"),
    exitEarly,
    incrementalStore,
    incrementalPipelining,
  };
}

function pairOf(parsed: ParsedCommandLine, flag: string): PathPair | undefined {
  const values = parsed.flags.get(flag);
  if (values === undefined) return undefined;
  if (values.length !== 2) {
    const hint = values.length > 2 ? ` (${FORGOTTEN_SEPARATOR_HINT})` : "";
    throw new WrapperError(
      `"${flag}" needs exactly 2 parameters, ${values.length} provided${hint}`,
    );
  }
  // An empty path would make "<dest>/<file>" a path from the file-system root.
  if (values.includes("")) throw new WrapperError(`"${flag}" has an empty path`);
  return { source: values[0], destination: values[1] };
}

function parseSubstitution(raw: string): Substitution {
  const separator = raw.indexOf("=");
  if (separator < 0) {
    throw new WrapperError(
      `"--subst" value '${raw}' is not KEY=VALUE (${FORGOTTEN_SEPARATOR_HINT})`,
    );
  }
  return { key: raw.slice(0, separator), value: raw.slice(separator + 1) };
}

function parseSeedMinMb(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_SEED_MIN_MB;
  if (!/^[0-9]+$/.test(raw)) {
    throw new WrapperError(`"--seed-min-mb" needs a whole number of MiB, got '${raw}'`);
  }
  return Number(raw);
}
