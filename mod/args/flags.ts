/**
 * The wrapper's flag grammar, as rules_rust's process wrapper defines it:
 * `process_wrapper [--flag VALUE...]... -- CHILD [CHILD_ARGS...]`.
 *
 * Pure: no file system, no environment. Errors are {@linkcode WrapperError}s
 * whose messages match the upstream wording ("unknown flag", "missing
 * parameter(s)", "can only appear once").
 *
 * @module
 */

import { describeError, WrapperError } from "../errors.ts";

/**
 * How a flag takes its values: `single` once with exactly one value,
 * `repeated` any number of times (values accumulate), `pair` a repeated flag
 * whose accumulated values must number exactly two.
 */
export type FlagKind = "single" | "repeated" | "pair";

/** One flag the wrapper accepts. */
export interface FlagDefinition {
  /** The flag as written on the command line, `--` included. */
  readonly name: string;
  /** How many values it takes and how often it may appear. */
  readonly kind: FlagKind;
  /** One line for `--help`. */
  readonly help: string;
}

/** Every flag the wrapper accepts, in `--help` order. */
export const FLAG_DEFINITIONS: readonly FlagDefinition[] = [
  { name: "--arg-file", kind: "repeated", help: "File(s) of arguments appended to the child's." },
  {
    name: "--copy-output",
    kind: "pair",
    help: "SRC DST: copy SRC to DST after the child succeeds.",
  },
  {
    name: "--copy-seed",
    kind: "pair",
    help:
      "SEED DEST: seed the incremental directory DEST from the tree SEED before the child runs.",
  },
  { name: "--env-file", kind: "repeated", help: "File(s) of KEY=VALUE lines for the child's env." },
  {
    name: "--exit-early",
    kind: "single",
    help: "true: do the pre-child work (seeding) and exit 0 without running a child.",
  },
  {
    name: "--incremental-store",
    kind: "single",
    help: "DIR: keep rustc's incremental state in DIR across runs (locked, keyed by what the " +
      "child receives; ${KEY} substituted); appends -Cincremental. Problems start cold.",
  },
  {
    name: "--incremental-pipelining",
    kind: "single",
    help: "true (with --incremental-store): a crate's metadata run and its compile share one " +
      "rustc in the persistent worker; rustc writes into the store, its files are copied out.",
  },
  { name: "--out-dir", kind: "single", help: "Set OUT_DIR=${pwd}/PATH and ${out_dir}=PATH." },
  { name: "--output-file", kind: "single", help: "Log all unprocessed child stderr to this file." },
  {
    name: "--require-explicit-unstable-features",
    kind: "single",
    help: "true: append -Zallow-features= unless the child args already carry one.",
  },
  {
    name: "--rustc-output-format",
    kind: "single",
    help: "json or rendered: process rustc's JSON diagnostics on stderr.",
  },
  {
    name: "--rustc-quit-on-rmeta",
    kind: "single",
    help: "true: kill rustc once it has emitted metadata and report success.",
  },
  {
    name: "--seed-min-mb",
    kind: "single",
    help: "Skip seeding when the seed holds fewer MiB than this (default 20).",
  },
  {
    name: "--seed-prev-dir",
    kind: "pair",
    help: "PREV DEST: like --copy-seed, from the previous build's tree; missing PREV starts cold.",
  },
  {
    name: "--seed-report",
    kind: "single",
    help: "Write a JSON report of what seeding did to this file.",
  },
  { name: "--stable-status-file", kind: "single", help: "Stamp {KEY} in env values from it." },
  { name: "--stderr-file", kind: "single", help: "Redirect (processed) child stderr here." },
  { name: "--stdout-file", kind: "single", help: "Redirect child stdout here." },
  { name: "--subst", kind: "repeated", help: "KEY=VALUE: replace ${KEY} in args, env, params." },
  { name: "--touch-file", kind: "single", help: "Create this file after the child succeeds." },
  { name: "--volatile-status-file", kind: "single", help: "Stamp {KEY} in env values from it." },
  {
    name: "--write-unused-inputs",
    kind: "pair",
    help: "FILE INPUT: after the child succeeds, write INPUT to FILE (unused_inputs_list).",
  },
];

const DEFINITIONS_BY_NAME: ReadonlyMap<string, FlagDefinition> = new Map(
  FLAG_DEFINITIONS.map((definition) => [definition.name, definition]),
);

/**
 * Added to an error caused by a word that looks like the child program: a
 * flag given more values than it takes, a `--subst` value without `=`, an
 * unknown flag after a flag's values. Without `--`, the command and its first
 * arguments become the last flag's values.
 */
export const FORGOTTEN_SEPARATOR_HINT = "did you forget `--` before the command?";

/** What the grammar makes of a command line. */
export interface ParsedCommandLine {
  /** `--help` was given: print {@linkcode helpText} and exit 0. */
  readonly help: boolean;
  /** `--version` was the only argument: print {@linkcode versionText} and exit 0. */
  readonly version?: boolean;
  /** Every flag given, with its values in command-line order. */
  readonly flags: ReadonlyMap<string, readonly string[]>;
  /** Everything after `--` (empty when there is no `--`). */
  readonly child: readonly string[];
}

/**
 * Expands the leading `@flagfile`s (Bazel's `multiline` param files: one
 * argument per line), the form Bazel gives a worker-capable action when it
 * runs it one-shot: rules_rust's action is three of them, the wrapper's flags,
 * `-- rustc`, then rustc's own arguments. Once a flagfile has given `--`, an
 * `@file` is the child's (rustc's param file) and stays. Upstream rejects a
 * leading `@...` as an unknown flag, so no accepted command line changes
 * meaning.
 *
 * @example
 * ```ts
 * import { expandFlagfile } from "./flags.ts";
 * import assert from "node:assert/strict";
 * const files: Record<string, string> = { flags: "--subst\npwd=${pwd}\n", child: "--\nrustc\n" };
 * const read = (path: string) => files[path];
 * assert.deepEqual(expandFlagfile(["@child"], read), ["--", "rustc"]);
 * assert.deepEqual(
 *   expandFlagfile(["@flags", "@child", "@rustc_params"], read),
 *   ["--subst", "pwd=${pwd}", "--", "rustc", "@rustc_params"],
 * );
 * ```
 *
 * @throws {WrapperError} naming the flagfile when it can't be read.
 */
export function expandFlagfile(
  argv: readonly string[],
  readTextFile: (path: string) => string,
): string[] {
  const expanded: string[] = [];
  let index = 0;
  for (; index < argv.length && argv[index].startsWith("@"); index++) {
    if (expanded.includes("--")) break;
    const path = argv[index].slice(1);
    let text: string;
    try {
      text = readTextFile(path);
    } catch (error) {
      throw new WrapperError(`flagfile ${path}: cannot read (${describeError(error)})`);
    }
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    expanded.push(...lines);
  }
  return [...expanded, ...argv.slice(index)];
}

/**
 * Parses the wrapper's command line (program name excluded).
 *
 * A flag takes all following arguments up to the next one that begins with
 * `--`; `--` itself ends the wrapper's flags. `--version` (not upstream's) is
 * the version only as the sole argument; elsewhere it is an unknown flag, as
 * upstream has it, so a command line missing its `--` never exits 0.
 *
 * @example
 * ```ts
 * import { parseCommandLine } from "./flags.ts";
 * import assert from "node:assert/strict";
 * const parsed = parseCommandLine(["--copy-seed", "a", "b", "--", "rustc", "--version"]);
 * assert.deepEqual(parsed.flags.get("--copy-seed"), ["a", "b"]);
 * assert.deepEqual(parsed.child, ["rustc", "--version"]);
 * assert.throws(
 *   () => parseCommandLine(["--subst", "pwd=/x", "rustc", "--version"]),
 *   /unknown flag "--version" \(did you forget `--` before the command\?\)/,
 * );
 * ```
 *
 * @throws {WrapperError} on an unknown flag, a flag with no value, or a
 * single flag given twice or with two values.
 */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  const flags = new Map<string, string[]>();
  if (argv.length === 1 && argv[0] === "--version") {
    return { help: false, version: true, flags, child: [] };
  }
  let index = 0;
  let afterValues = false;
  while (index < argv.length) {
    const flag = argv[index++];
    if (flag === "--help") return { help: true, flags, child: [] };
    if (flag === "--") return { help: false, flags, child: argv.slice(index) };
    const definition = flag.startsWith("--") ? DEFINITIONS_BY_NAME.get(flag) : undefined;
    if (definition === undefined) {
      throw new WrapperError(
        `unknown flag "${flag}"` +
          (afterValues || !flag.startsWith("-") ? ` (${FORGOTTEN_SEPARATOR_HINT})` : ""),
      );
    }
    const start = index;
    while (index < argv.length && !argv[index].startsWith("--")) index++;
    const values = argv.slice(start, index);
    if (values.length === 0) throw new WrapperError(`flag "${flag}" missing parameter(s)`);
    afterValues = true;
    const previous = flags.get(flag);
    if (definition.kind === "single" && values.length > 1) {
      throw new WrapperError(`flag "${flag}" can only appear once (${FORGOTTEN_SEPARATOR_HINT})`);
    }
    if (definition.kind === "single" && previous !== undefined) {
      throw new WrapperError(`flag "${flag}" can only appear once`);
    }
    flags.set(flag, previous === undefined ? values : previous.concat(values));
  }
  return { help: false, flags, child: [] };
}

/**
 * The `--help` text: usage and one line per flag.
 *
 * @example
 * ```ts
 * import { helpText } from "./flags.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(helpText("process_wrapper").startsWith("Help for process_wrapper"), true);
 * ```
 */
export function helpText(programName: string): string {
  const lines = FLAG_DEFINITIONS.map((definition) => `\t${definition.name}\t${definition.help}`);
  return [
    `Help for ${programName}: [options] -- [extra arguments]`,
    ...lines,
    "\t--help\tPrint this help on stderr and exit 0.",
    "\t--version\tThe only argument: print the version and the Deno it runs on, and exit 0.",
    "\t--persistent_worker\tServe Bazel's JSON persistent-worker protocol on stdin/stdout.",
    "\t@FLAGFILE...\tLeading arguments: read the command line from each FLAGFILE, one " +
    "argument per line (Bazel's multiline param files), until one gives --.",
    "Environment: RULES_RUST_PROCESS_WRAPPER_DEBUG (any value) prints what the wrapper does.",
    "",
  ].join("\n");
}

/** This wrapper's version. */
export const VERSION = "0.4.0";

/**
 * The `--version` line: the wrapper's version and the Deno it runs on.
 *
 * @example
 * ```ts
 * import { versionText } from "./flags.ts";
 * import assert from "node:assert/strict";
 * assert.match(versionText("process_wrapper"), /^process_wrapper 0\.4\.0 \(deno \d+\.\d+\.\d+\)\n$/);
 * ```
 */
export function versionText(programName: string): string {
  return `${programName} ${VERSION} (deno ${Deno.version.deno})\n`;
}
