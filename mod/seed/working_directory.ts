/**
 * rustc reuses incremental state only in the working directory that made it:
 * from another one (every Bazel sandbox, a remote executor's per-action
 * directory) it discards the whole cache and compiles cold, which with
 * `-Cincremental` costs more than a build without it. So a run that seeds or
 * uses a store records, inside the `-Cincremental` directory, where its
 * state is made (a file rustc ignores), and a later run elsewhere compiles
 * exactly as `incremental=false` would: no `-Cincremental` at all.
 *
 * - No record (a first build, or state from before the record): incremental,
 *   and the record is written.
 * - The same directory: incremental, reusing the state.
 * - Another directory: the child runs without `-Cincremental`. A seeded
 *   directory (tree mode) is emptied and recorded as made here, so the next
 *   seed costs nothing to copy, and a later run here starts as a first
 *   build. A store is left as it is: it still serves the directory that made
 *   it. The directory is created if missing (a tree artifact must exist).
 *
 * @module
 */

import { debug } from "../debug.ts";
import { describeError } from "../errors.ts";

/** The file in a `-Cincremental` directory naming the working directory its state was made in. */
export const MADE_IN_FILE = ".process_wrapper_cwd";

/** One `-C incremental=DIR` of rustc's arguments: where it is, how many words, and DIR. */
interface IncrementalFlag {
  readonly index: number;
  readonly words: 1 | 2;
  readonly directory: string;
}

function incrementalFlags(args: readonly string[]): IncrementalFlag[] {
  const flags: IncrementalFlag[] = [];
  for (let index = 0; index < args.length; index++) {
    const joined = /^(?:-C|--codegen=)incremental=(.*)$/s.exec(args[index]);
    if (joined) {
      flags.push({ index, words: 1, directory: joined[1] });
      continue;
    }
    const next = args[index + 1];
    if ((args[index] === "-C" || args[index] === "--codegen") && next !== undefined) {
      const split = /^incremental=(.*)$/s.exec(next);
      if (split) flags.push({ index, words: 2, directory: split[1] });
      index++; // The value is never a flag of its own.
    }
  }
  return flags;
}

/**
 * The directory rustc's arguments give `-C incremental` (the last one, as
 * rustc takes it), in any spelling rustc accepts; `undefined` when none. Pure.
 *
 * @example
 * ```ts
 * import { incrementalDirectory } from "./working_directory.ts";
 * import assert from "node:assert/strict";
 * assert.equal(incrementalDirectory(["lib.rs", "-C", "incremental=a", "-Cincremental=b"]), "b");
 * assert.equal(incrementalDirectory(["lib.rs", "-Copt-level=1"]), undefined);
 * ```
 */
export function incrementalDirectory(args: readonly string[]): string | undefined {
  return incrementalFlags(args).at(-1)?.directory;
}

/**
 * rustc's arguments without any `-C incremental`. Pure.
 *
 * @example
 * ```ts
 * import { withoutIncremental } from "./working_directory.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(
 *   withoutIncremental(["lib.rs", "-C", "incremental=a", "-Cincremental=b", "-Copt-level=1"]),
 *   ["lib.rs", "-Copt-level=1"],
 * );
 * ```
 */
export function withoutIncremental(args: readonly string[]): string[] {
  const dropped = new Set<number>();
  for (const flag of incrementalFlags(args)) {
    for (let word = 0; word < flag.words; word++) dropped.add(flag.index + word);
  }
  return args.filter((_, index) => !dropped.has(index));
}

/**
 * The child's arguments for a run in `cwd`: as given when the state in their
 * `-C incremental` directory was made in `cwd` or has no record (which is
 * then written), else without `-C incremental` (see the module). A directory
 * among `seeded` (this run's seed destinations) made elsewhere is emptied
 * and recorded as made in `cwd`: a seed rustc would discard is only a cost
 * to copy on. Never fails: a record that cannot be written only costs the
 * next run its check.
 *
 * @example
 * ```ts
 * import { MADE_IN_FILE, reusableHere } from "./working_directory.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * const args = ["lib.rs", `-Cincremental=${dir}/incr`];
 * assert.deepEqual(reusableHere(args, "/sandbox/1", []), args); // no record yet: incremental
 * assert.equal(Deno.readTextFileSync(`${dir}/incr/${MADE_IN_FILE}`), "/sandbox/1\n");
 * assert.deepEqual(reusableHere(args, "/sandbox/1", []), args); // made here: reused
 * assert.deepEqual(reusableHere(args, "/sandbox/2", []), ["lib.rs"]); // made elsewhere
 * assert.equal(Deno.readTextFileSync(`${dir}/incr/${MADE_IN_FILE}`), "/sandbox/1\n");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function reusableHere(
  args: readonly string[],
  cwd: string,
  seeded: readonly string[],
): readonly string[] {
  const directory = incrementalDirectory(args);
  if (directory === undefined) return args;
  const record = `${directory}/${MADE_IN_FILE}`;
  const madeIn = readRecord(record);
  if (madeIn === cwd) return args;
  if (madeIn === undefined) {
    writeRecord(directory, cwd);
    return args;
  }
  debug(
    `incremental state in ${directory} was made in ${madeIn}, rustc discards it in ${cwd}: ` +
      "compiling without -Cincremental, as incremental=false would",
  );
  if (seeded.some((destination) => sameDirectory(destination, directory))) {
    try {
      Deno.removeSync(directory, { recursive: true });
    } catch (error) {
      debug(`cannot empty ${directory} (${describeError(error)})`);
    }
    writeRecord(directory, cwd);
  } else {
    try {
      Deno.mkdirSync(directory, { recursive: true }); // a tree artifact must exist
    } catch (error) {
      debug(`cannot create ${directory} (${describeError(error)})`);
    }
  }
  return withoutIncremental(args);
}

function readRecord(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).replace(/\n$/, "");
  } catch {
    return undefined;
  }
}

function writeRecord(directory: string, cwd: string): void {
  const record = `${directory}/${MADE_IN_FILE}`;
  // A new file renamed into place: a record seeded as a hard link of the seed's is never written.
  const written = `${record}.${crypto.randomUUID()}`;
  try {
    Deno.mkdirSync(directory, { recursive: true });
    Deno.writeTextFileSync(written, `${cwd}\n`);
    Deno.renameSync(written, record);
  } catch (error) {
    debug(`cannot record the working directory in ${record} (${describeError(error)})`);
    Deno.remove(written).catch(() => {});
  }
}

function sameDirectory(a: string, b: string): boolean {
  try {
    const [one, two] = [Deno.statSync(a), Deno.statSync(b)];
    return one.dev === two.dev && one.ino === two.ino;
  } catch {
    return false;
  }
}
