/**
 * Plans the child invocation: reads env, arg, status and `@param` files
 * through a {@linkcode PlanHost}, applies substitutions and stamping, and
 * returns what to write and what to run. It writes nothing itself, so a bad
 * input file leaves no partial output behind.
 *
 * @module
 */

import { describeError, WrapperError } from "../errors.ts";
import type { RustcOutputFormat } from "../exec/rustc_json.ts";
import { parseEnvFile, parseStatusFile, splitLogicalLines } from "./lines.ts";
import type { Options } from "./options.ts";
import {
  bazelDirectories,
  resolveSubstitutions,
  stamp,
  substitute,
  type Substitution,
} from "./subst.ts";

/** The reads a plan needs from the world, injected so planning can be tested without files. */
export interface PlanHost {
  /** The working directory (`${pwd}`). */
  readonly cwd: string;
  /** The wrapper's own environment. */
  readonly env: Readonly<Record<string, string>>;
  /** Reads a whole text file; throws when it can't. */
  readTextFile(path: string): string;
  /** Resolves a path through symlinks, or `undefined` when it does not exist. */
  realPath(path: string): string | undefined;
}

/** A file the wrapper writes before starting the child. */
export interface PlannedFile {
  /** Where to write it. */
  readonly path: string;
  /** Its full content. */
  readonly content: string;
}

/** Everything needed to start the child. */
export interface ChildPlan {
  /** The program to run (after substitution); empty only with `--exit-early`, which runs none. */
  readonly executable: string;
  /** Its arguments: command line, then `--arg-file` lines, `@param`s rewritten. */
  readonly args: readonly string[];
  /** Its complete environment. */
  readonly env: Readonly<Record<string, string>>;
  /** The expanded `@param` files to write before the child starts. */
  readonly paramFiles: readonly PlannedFile[];
  /** Where its output goes and how its stderr is processed. */
  readonly output: ChildOutput;
  /** `--incremental-store`, substituted: rustc's persistent incremental state. */
  readonly incrementalStore?: string;
  /** `--incremental-pipelining true`: the metadata run and the compile share one rustc. */
  readonly incrementalPipelining?: boolean;
  /**
   * The env variables stamped from the volatile status file (`{BUILD_TIMESTAMP}`, say): Bazel
   * does not rerun an action for them, and they change on every build that does.
   */
  readonly volatileEnv?: readonly string[];
}

/** Where the child's output goes, and how its stderr is processed. */
export interface ChildOutput {
  /** `--stdout-file`: the child's stdout is this file. */
  readonly stdoutFile?: string;
  /** `--stderr-file`: the processed stderr goes here. */
  readonly stderrFile?: string;
  /** `--output-file`: every raw stderr byte is also copied here. */
  readonly outputFile?: string;
  /** `--rustc-output-format`: process rustc's JSON diagnostics. */
  readonly format?: RustcOutputFormat;
  /** `--rustc-quit-on-rmeta true`: stop the child once its metadata is written. */
  readonly quitOnMetadata: boolean;
}

const ALLOW_FEATURES_FLAG = "-Zallow-features=";

/**
 * Whether a child argument already sets the allowed unstable features
 * (`-Zallow-features=...`, or `allow-features=...` after a separate `-Z`).
 *
 * @example
 * ```ts
 * import { isAllowFeaturesFlag } from "./plan.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(isAllowFeaturesFlag("-Zallow-features=foo"), true);
 * assert.deepEqual(isAllowFeaturesFlag("-Zunstable-options"), false);
 * ```
 */
export function isAllowFeaturesFlag(arg: string): boolean {
  return arg.startsWith(ALLOW_FEATURES_FLAG) || arg.startsWith("allow-features=");
}

/**
 * Builds the {@linkcode ChildPlan} for validated options.
 *
 * @example
 * ```ts
 * import { planChild } from "./plan.ts";
 * import { parseCommandLine } from "./flags.ts";
 * import { resolveOptions } from "./options.ts";
 * import assert from "node:assert/strict";
 * const options = resolveOptions(parseCommandLine(["--subst", "pwd=${pwd}", "--", "rustc", "${pwd}/lib.rs"]));
 * const host = { cwd: "/w", env: {}, readTextFile: () => "", realPath: () => undefined };
 * assert.deepEqual(planChild(options, host).args, ["/w/lib.rs"]);
 * ```
 *
 * @throws {WrapperError} naming the flag and file that can't be read or parsed.
 */
export function planChild(options: Options, host: PlanHost): ChildPlan {
  const substitutions = resolveSubstitutions(
    options.substitutions,
    host.cwd,
    () => bazelDirectories(host.cwd, host.realPath(`${host.cwd}/external`)),
  );
  if (options.outDir !== undefined) substitutions.push({ key: "out_dir", value: options.outDir });

  const read = (flag: string, path: string) => {
    try {
      return host.readTextFile(path);
    } catch (error) {
      // A relative path resolves against the working directory, which is not always the
      // caller's (a `deno task` runs in the repository): say where the file was looked for.
      const where = error instanceof Deno.errors.NotFound && !path.startsWith("/")
        ? `; looked in ${host.cwd}`
        : "";
      throw new WrapperError(
        `${flag} ${path}: cannot read file (${describeError(error)}${where})`,
      );
    }
  };

  const fileArgs = options.argFiles.flatMap((path) => splitLogicalLines(read("--arg-file", path)));
  const expander = new ParamExpander(substitutions, (path) => read("@param file", path));
  const args = [...options.child, ...fileArgs].map((arg) => expander.rewrite(arg));
  if (options.requireExplicitUnstableFeatures && !expander.sawAllowFeatures) {
    args.push(ALLOW_FEATURES_FLAG);
  }

  const env: Record<string, string> = { ...host.env };
  for (const path of options.envFiles) {
    for (const [key, value] of parseEnvFile(read("--env-file", path), path)) env[key] = value;
  }
  // As upstream: the literal "${pwd}/<dir>", substituted like every env value, so a custom
  // --subst pwd=... applies.
  if (options.outDir !== undefined) env.OUT_DIR = `\${pwd}/${options.outDir}`;
  const volatile = statusOf(options.volatileStatusFile, "--volatile-status-file", read);
  const status = [
    ...statusOf(options.stableStatusFile, "--stable-status-file", read),
    ...volatile,
  ];
  const volatileEnv = Object.keys(env).filter((key) =>
    volatile.some(([name]) => env[key].includes(`{${name}}`))
  );
  if (status.length > 0 || substitutions.length > 0) {
    for (const key of Object.keys(env)) {
      env[key] = substitute(stamp(env[key], status), substitutions);
    }
  }
  if (options.outDir !== undefined && !substitutions.some(({ key }) => key === "pwd")) {
    // Upstream leaves a literal ${pwd} in OUT_DIR without --subst pwd=...; no build script wants it.
    env.OUT_DIR = env.OUT_DIR.replace("${pwd}", host.cwd);
  }

  if (args.length === 0 && !options.exitEarly) {
    throw new WrapperError(
      "at least one argument after -- is required (the child process path); see --help",
    );
  }
  const [executable = "", ...rest] = args;
  const output: ChildOutput = {
    stdoutFile: options.stdoutFile,
    stderrFile: options.stderrFile,
    outputFile: options.outputFile,
    format: options.rustcOutputFormat,
    quitOnMetadata: options.rustcQuitOnRmeta,
  };
  const incrementalStore = options.incrementalStore === undefined
    ? undefined
    : substitute(options.incrementalStore, substitutions);
  return {
    executable,
    args: rest,
    env,
    paramFiles: expander.files,
    output,
    incrementalStore,
    incrementalPipelining: options.incrementalPipelining,
    volatileEnv,
  };
}

function statusOf(
  path: string | undefined,
  flag: string,
  read: (flag: string, path: string) => string,
): [string, string][] {
  return path === undefined ? [] : parseStatusFile(read(flag, path), path);
}

/** Substitutes child arguments and expands `@param` files (recursively, inline). */
class ParamExpander {
  readonly files: PlannedFile[] = [];
  sawAllowFeatures = false;

  constructor(
    private readonly substitutions: readonly Substitution[],
    private readonly read: (path: string) => string,
  ) {}

  /** Returns the argument the child gets in place of `arg`. */
  rewrite(arg: string): string {
    const substituted = substitute(arg, this.substitutions);
    if (!substituted.startsWith("@")) {
      this.sawAllowFeatures ||= isAllowFeaturesFlag(substituted);
      return substituted;
    }
    const path = substituted.slice(1);
    const lines: string[] = [];
    this.expandInto(path, lines, []);
    const expandedPath = `${path}.expanded`;
    this.files.push({ path: expandedPath, content: lines.map((line) => line + "\n").join("") });
    return `@${expandedPath}`;
  }

  private expandInto(path: string, out: string[], chain: readonly string[]): void {
    if (chain.includes(path)) {
      throw new WrapperError(
        `@param file ${path} includes itself (${[...chain, path].join(" -> ")})`,
      );
    }
    for (const line of splitLogicalLines(this.read(path))) {
      const substituted = substitute(line, this.substitutions);
      if (substituted.startsWith("@")) {
        this.expandInto(substituted.slice(1), out, [...chain, path]);
      } else {
        this.sawAllowFeatures ||= isAllowFeaturesFlag(substituted);
        out.push(substituted);
      }
    }
  }
}
