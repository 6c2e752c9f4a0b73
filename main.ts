/**
 * deno-process-wrapper: a drop-in for rules_rust's `process_wrapper`.
 *
 * Parse, plan, run, exit code; every effect lives in `mod/`. With
 * `--persistent_worker` it serves Bazel's JSON worker protocol instead, each
 * request being one such run.
 *
 * @example
 * ```sh
 * deno run -A main.ts --subst pwd=${pwd} -- rustc --crate-type=rlib src/lib.rs
 * ```
 *
 * @module
 */

import { WrapperError, wrapperErrorLine, wrapperMessage } from "./mod/errors.ts";
import type { StoreLease } from "./mod/store/mod.ts";
import {
  type ChildPlan,
  expandFlagfile,
  helpText,
  nonUtf8Argument,
  type Options,
  parseCommandLine,
  planChild,
  readLineFile,
  resolveOptions,
  systemHost,
  versionText,
} from "./mod/args/mod.ts";
import {
  copyOutput,
  PROCESS_IO,
  runChild,
  type RunIO,
  touchFile,
  writeAll,
  writePlannedFiles,
  writeUnusedInputs,
} from "./mod/exec/mod.ts";

/** Bazel's flag for starting a persistent worker. */
const PERSISTENT_WORKER = "--persistent_worker";

/**
 * Runs the wrapper on `argv` (program name excluded) and returns its exit code.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * import assert from "node:assert/strict";
 * assert.equal(await main(["--", "/bin/true"]), 0);
 * ```
 */
export async function main(argv: readonly string[]): Promise<number> {
  // Only among the wrapper's own flags: after `--` it is the child's argument.
  const childStart = argv.indexOf("--");
  const workerFlag = argv.indexOf(PERSISTENT_WORKER);
  if (workerFlag >= 0 && (childStart < 0 || workerFlag < childStart)) {
    const { serveWorker } = await import("./mod/worker/mod.ts");
    return await serveWorker(argv.toSpliced(workerFlag, 1), runOnce);
  }
  return await runOnce(argv, PROCESS_IO);
}

/**
 * One wrapper run: a one-shot process, or one worker request.
 *
 * @example
 * ```ts
 * import { runOnce } from "./main.ts";
 * import { PROCESS_IO } from "./mod/exec/mod.ts";
 * import assert from "node:assert/strict";
 * assert.equal(await runOnce(["--", "/bin/false"], PROCESS_IO), 1);
 * ```
 */
export async function runOnce(argv: readonly string[], io: RunIO): Promise<number> {
  try {
    const parsed = parseCommandLine(expandFlagfile(argv, readLineFile));
    if (parsed.help) {
      io.warn(helpText("process_wrapper"));
      return 0;
    }
    if (parsed.version) {
      await writeAll(
        io.childStdout ?? Deno.stdout,
        new TextEncoder().encode(versionText("process_wrapper")),
      );
      return 0;
    }
    const options = resolveOptions(parsed);
    // Every input is read and checked before anything is written, with --exit-early too.
    const plan = planChild(options, systemHost());
    if (seeds(options)) await seed(options, io);
    writePlannedFiles(plan.paramFiles);
    if (options.exitEarly) return 0;

    const code = await runPlannedChild(plan, options, io);
    if (code === 0) {
      if (options.touchFile !== undefined) touchFile(options.touchFile);
      if (options.copyOutput !== undefined) copyOutput(options.copyOutput);
      if (options.writeUnusedInputs !== undefined) writeUnusedInputs(options.writeUnusedInputs);
    }
    return code;
  } catch (error) {
    if (!(error instanceof WrapperError)) throw error;
    io.warn(wrapperErrorLine(error));
    return 1;
  }
}

/** Runs the planned child: through its crate's shared rustc, in its store, or as it is. */
async function runPlannedChild(plan: ChildPlan, options: Options, io: RunIO): Promise<number> {
  if (plan.incrementalPipelining) {
    const { runPipelined } = await import("./mod/store/mod.ts");
    const code = await runPipelined(plan, io, (args) => onlyWhereMade(args, options));
    if (code !== undefined) return code;
  } else if (io.keepsChildren) {
    // A rustc answered for its metadata, still running, is a child Bazel does not count.
    const { untilNoDetachedRustc } = await import("./mod/store/mod.ts");
    await untilNoDetachedRustc(io.cancel);
  }
  using store = await leaseStore(plan, io);
  const { code } = store ? await runWithStore(plan, store, options, io) : await runChild(
    seeds(options) ? { ...plan, args: await onlyWhereMade(plan.args, options) } : plan,
    io,
  );
  return code;
}

/** The store is loaded only by the command lines that use one. */
async function leaseStore(plan: ChildPlan, io: RunIO): Promise<StoreLease | undefined> {
  if (plan.incrementalStore === undefined) return undefined;
  const { childInputs, leaseIncrementalStore, leaseStoreCopy, storeKey } = await import(
    "./mod/store/mod.ts"
  );
  // Killed once metadata is written, rustc would never finalize: it reads a private copy.
  return plan.output.quitOnMetadata
    ? await leaseStoreCopy(plan.incrementalStore, io.warn)
    : await leaseIncrementalStore(
      plan.incrementalStore,
      await storeKey(childInputs(plan)),
      io.warn,
      io.cancel,
    );
}

/** Seeded or stored state reaches rustc only in the working directory that made it. */
async function onlyWhereMade(
  args: readonly string[],
  options: Options,
): Promise<readonly string[]> {
  const { reusableHere } = await import("./mod/seed/mod.ts");
  const seeded = [options.copySeed?.destination, options.seedPrevDir?.destination];
  return reusableHere(args, Deno.cwd(), seeded.filter((path) => path !== undefined));
}

/**
 * Runs the child with `-Cincremental` in the store (where the store's state
 * was made); when it fails on a full disk, once more without (a store
 * problem is never fatal).
 */
async function runWithStore(plan: ChildPlan, store: StoreLease, options: Options, io: RunIO) {
  const { fullDiskWatch } = await import("./mod/store/mod.ts");
  const watch = fullDiskWatch();
  const args = await onlyWhereMade([...plan.args, `-Cincremental=${store.directory}`], options);
  const outcome = await runChild(
    { ...plan, args },
    io,
    { started: (pid) => store.childStarted?.(pid), stderr: watch.stderr },
  );
  if (outcome.code === 0 || !watch.full) return outcome;
  io.warn(wrapperMessage(
    `incremental store ${plan.incrementalStore}: the disk is full: ` +
      "compiling again without incremental state",
  ));
  return await runChild(plan, io);
}

/** Whether the command line seeds (`--copy-seed`, `--seed-prev-dir`). */
function seeds(options: Options): boolean {
  return options.copySeed !== undefined || options.seedPrevDir !== undefined;
}

/** Seeding is loaded only by the command lines that seed. */
async function seed(options: Options, io: RunIO): Promise<void> {
  const { seedForOptions } = await import("./mod/seed/mod.ts");
  await seedForOptions(options, io.warn);
}

if (import.meta.main) {
  const unreadable = nonUtf8Argument(Deno.args);
  if (unreadable !== undefined) {
    PROCESS_IO.warn(
      wrapperErrorLine(
        new WrapperError(`argument ${unreadable + 1} is not valid UTF-8: ${Deno.args[unreadable]}`),
      ),
    );
  }
  Deno.exit(unreadable === undefined ? await main(Deno.args) : 1);
}
