/**
 * A persistent home for one crate's rustc incremental state, outside Bazel's
 * outputs: no seed action, no tree artifact, nothing for a cache to store.
 * rustc reuses its state only from the same working directory, so the
 * actions using a store run unsandboxed or in a persistent worker, both in
 * the execroot.
 *
 * Safety rules, each enforced here:
 * - **Keyed.** The integration names one store per label and configuration;
 *   the store also remembers a digest of what the child receives
 *   ({@linkcode childInputs}: its command line, expanded `@param` files,
 *   environment, and the executable's identity), and empties itself when that
 *   changes, so changed inputs or another toolchain never meet old state and
 *   disk stays bounded (rustc keeps two sessions).
 * - **One user at a time.** An exclusive `flock` on `lock` is held while
 *   the child runs; another process or worker request waits for it. The
 *   child is recorded in `owner` (id and start time): if the wrapper dies
 *   first, the next run also waits until that child has ended.
 * - **Sound after a crash or restart.** Nothing is kept in memory: the lock
 *   dies with its process, the owner record with its child, and rustc
 *   ignores an unfinished (`-working`) session it finds.
 * - **Never fatal.** Any problem is one line, and the child runs without
 *   `-Cincremental`, i.e. exactly a non-incremental build. A store (or an
 *   entry of it) that is a symbolic link is such a problem: the wrapper
 *   writes and removes only what is its own.
 *
 * A metadata run (`--rustc-quit-on-rmeta`) without `--incremental-pipelining`
 * (see `pipelined.ts`) is killed before rustc finalizes its session, so it
 * never writes the store: it gets a private copy of the
 * store's newest session instead ({@linkcode leaseStoreCopy}), hard-linked
 * in a few milliseconds and removed afterwards (a copy whose process was
 * killed is removed by the next run of the store). It takes no lock, so it runs
 * beside its crate's compile, and its `.rmeta` has the same crate hash as
 * the compile's `.rlib` (both are built with `-Cincremental`).
 *
 * @module
 */

import { describeError, WrapperError, wrapperMessage } from "../errors.ts";
import type { ChildPlan } from "../args/mod.ts";
import { isRunning, type ProcessIdentity, processIdentity } from "../exec/mod.ts";
import { seedDirectory } from "../seed/mod.ts";

/** A store held for one run; dispose it once the child has exited. */
export interface StoreLease extends Disposable {
  /** rustc's `-Cincremental` directory inside the store. */
  readonly directory: string;
  /** Whether earlier state is there to reuse (same key, or a session copied), or none. */
  readonly kept: boolean;
  /** Records the child using the store (a private copy needs no record). */
  childStarted?(pid: number): void;
}

/** The entries of a store; none may be a symbolic link. */
const STORE_ENTRIES = ["lock", "key", "owner", "owner.new", "incr", "scratch", "out"];

/**
 * How often a wait for a busy store looks again (its lock, or the child of a
 * dead wrapper): short next to any compile.
 */
const POLL_MS = 50;

/**
 * What the store's key covers: all the child receives that can change its
 * output. rustc's own checks would catch the rest, but a key that misses
 * an input keeps state the new inputs cannot use, and another toolchain would
 * leave a second crate directory beside the first.
 *
 * @example
 * ```ts
 * import { childInputs } from "./incremental_store.ts";
 * import assert from "node:assert/strict";
 * const plan = { executable: "/bin/sh", args: ["@a.params.expanded"], env: { RUSTUP_TOOLCHAIN: "stable" }, paramFiles: [{ path: "a.params.expanded", content: "-Copt-level=3\n" }], output: { quitOnMetadata: false } };
 * const inputs = childInputs(plan);
 * assert.ok(inputs.includes("@\0-Copt-level=3\n") && inputs.includes("RUSTUP_TOOLCHAIN=stable"));
 * // Another path, the same content: the same inputs.
 * const renamed = { ...plan, args: ["@b.params.expanded"], paramFiles: [{ path: "b.params.expanded", content: "-Copt-level=3\n" }] };
 * assert.deepEqual(childInputs(renamed), inputs);
 * const stamped = { ...plan, env: { STAMP: "1796139000" }, volatileEnv: ["STAMP"] };
 * assert.deepEqual(childInputs(stamped), childInputs({ ...stamped, env: { STAMP: "1796139999" } }));
 * assert.match(inputs.at(-1)!, /^\/.* \d+ \d+$/); // the executable's path, size and mtime
 * ```
 */
export function childInputs(plan: ChildPlan): string[] {
  // A param file by its content, not its path: a crate's metadata and compile actions name theirs
  // differently, and share one store.
  const contents = new Map(plan.paramFiles.map(({ path, content }) => [path, content]));
  return [
    plan.executable,
    ...plan.args.map((arg) => {
      const content = arg.startsWith("@") ? contents.get(arg.slice(1)) : undefined;
      return content === undefined ? arg : `@\0${content}`;
    }),
    "\0environment",
    // A value stamped from the volatile status changes on every build: keyed, it would empty the
    // store each time. rustc tracks the variables a crate reads, as for any edit.
    ...Object.entries(plan.env)
      .map(([key, value]) =>
        plan.volatileEnv?.includes(key) ? `${key} (volatile)` : `${key}=${value}`
      )
      .sort(),
    "\0executable",
    executableIdentity(plan.executable, plan.env.PATH),
  ];
}

/** The executable the child runs (found on `path` as exec does), as its real path, size and mtime. */
function executableIdentity(executable: string, path = ""): string {
  const candidates = executable.includes("/")
    ? [executable]
    : path.split(":").map((directory) => `${directory || "."}/${executable}`);
  for (const candidate of candidates) {
    try {
      const info = Deno.statSync(candidate);
      if (!info.isFile) continue;
      return `${Deno.realPathSync(candidate)} ${info.size} ${info.mtime?.getTime() ?? 0}`;
    } catch {
      // Not there: the next directory of PATH.
    }
  }
  return "not found";
}

/**
 * Watches a child's stderr for a write that failed on a full disk (`os error
 * 28`, ENOSPC, as rustc reports failing to write its query cache or
 * dependency graph), for a run that then compiles again without incremental
 * state.
 *
 * @example
 * ```ts
 * import { fullDiskWatch } from "./incremental_store.ts";
 * import assert from "node:assert/strict";
 * const watch = fullDiskWatch();
 * const bytes = new TextEncoder().encode("error: failed to write query cache: No space left on device (os error 28)\n");
 * watch.stderr(bytes.subarray(0, 70));
 * assert.equal(watch.full, false);
 * watch.stderr(bytes.subarray(70));
 * assert.equal(watch.full, true);
 * ```
 */
export function fullDiskWatch(): { stderr(bytes: Uint8Array): void; readonly full: boolean } {
  const marker = "(os error 28)";
  const decoder = new TextDecoder();
  let tail = "";
  let full = false;
  return {
    stderr(bytes) {
      if (full) return;
      const text = tail + decoder.decode(bytes, { stream: true });
      full = text.includes(marker);
      tail = text.slice(-marker.length);
    },
    get full() {
      return full;
    },
  };
}

/**
 * The key of a child's inputs: a SHA-256 hex digest of its words.
 *
 * @example
 * ```ts
 * import { storeKey } from "./incremental_store.ts";
 * import assert from "node:assert/strict";
 * const key = await storeKey(["rustc", "lib.rs", "-Copt-level=0"]);
 * assert.equal(key.length, 64);
 * assert.notEqual(key, await storeKey(["rustc", "lib.rs", "-Copt-level=1"]));
 * ```
 */
export async function storeKey(argv: readonly string[]): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(JSON.stringify(argv)),
  );
  return Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/**
 * Takes the store at `root` for a child run whose inputs have `key` (the
 * {@linkcode storeKey} of its {@linkcode childInputs}): creates it if
 * missing, waits for its lock and for a child that a dead wrapper left using
 * it (until `cancel` is aborted), and empties it when `key` differs from the
 * one it holds. Returns
 * `undefined` after one `warn` line when the store cannot be used.
 *
 * @example
 * ```ts
 * import { leaseIncrementalStore, storeKey } from "./incremental_store.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * const key = await storeKey(["rustc", "lib.rs"]);
 * const root = `${dir}/lib.store`;
 * // A lock left held (a lease never disposed) fails this example by name instead of hanging it.
 * const bound = () => AbortSignal.timeout(10_000);
 * {
 *   using lease = (await leaseIncrementalStore(root, key, console.error, bound()))!;
 *   assert.equal(lease.directory, `${root}/incr`);
 *   assert.equal(lease.kept, false); // a new store
 *   Deno.mkdirSync(lease.directory); // what rustc does
 * }
 * {
 *   using again = (await leaseIncrementalStore(root, key, console.error, bound()))!;
 *   assert.equal(again.kept, true);
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @throws {WrapperError} when `cancel` is aborted while it waits for the lock.
 */
export async function leaseIncrementalStore(
  root: string,
  key: string,
  warn: (line: string) => void,
  cancel?: AbortSignal,
): Promise<StoreLease | undefined> {
  let lock: Deno.FsFile | undefined;
  try {
    refuseSymlinks(root);
    Deno.mkdirSync(root, { recursive: true });
    lock = await Deno.open(`${root}/lock`, { read: true, write: true, create: true, mode: 0o600 });
    if (!await lockUnlessCancelled(lock, cancel)) {
      throw new WrapperError(`incremental store ${root}: cancelled while waiting for its lock`);
    }
    // Checked again under the lock: a run of another user of the directory may have made one.
    refuseSymlinks(root);
    if (!await waitForOwner(`${root}/owner`, cancel)) {
      throw new WrapperError(`incremental store ${root}: cancelled while its last child runs`);
    }
    removeStaleCopies(root);
    const directory = `${root}/incr`;
    const kept = readKey(`${root}/key`) === key;
    if (!kept) {
      removeIfPresent(directory);
      Deno.writeTextFileSync(`${root}/key`, `${key}\n`);
    }
    const held = lock;
    return {
      directory,
      kept,
      childStarted(pid) {
        const { start } = processIdentity(pid);
        try {
          // Renamed into place: a wrapper killed while writing leaves no empty record behind.
          removeIfPresent(`${root}/owner.new`);
          Deno.writeTextFileSync(`${root}/owner.new`, `${pid} ${start ?? ""}\n`, {
            createNew: true,
            mode: 0o600,
          });
          Deno.renameSync(`${root}/owner.new`, `${root}/owner`);
        } catch (error) {
          // The child runs on: only a run after this wrapper's death would not wait for it.
          warn(wrapperMessage(
            `incremental store ${root}: cannot record the child (${describeError(error)})`,
          ));
        }
      },
      [Symbol.dispose]() {
        try {
          removeIfPresent(`${root}/owner`);
        } finally {
          held.close();
        }
      },
    };
  } catch (error) {
    lock?.close();
    if (error instanceof WrapperError) throw error;
    warn(wrapperMessage(
      `incremental store ${root} unusable (${describeError(error)}): ` +
        "compiling without incremental state",
    ));
    return undefined;
  }
}

/**
 * A private copy of the newest session in the store at `root`, for a rustc
 * that will be killed once its metadata is written (and so must not write
 * the store). Never locks: it may run while the store's owner compiles, and
 * a session that vanishes meanwhile only means a cold start. `undefined`
 * (after one `warn` line) when not even an empty directory can be made.
 *
 * @example
 * ```ts
 * import { leaseStoreCopy } from "./incremental_store.ts";
 * import assert from "node:assert/strict";
 * const root = Deno.makeTempDirSync();
 * const session = `${root}/incr/crate-1/s-1-2-abc`;
 * Deno.mkdirSync(session, { recursive: true });
 * Deno.writeTextFileSync(`${session}/dep-graph.bin`, "state");
 * let directory: string;
 * {
 *   using copy = (await leaseStoreCopy(root, console.error))!;
 *   directory = copy.directory;
 *   assert.equal(copy.kept, true);
 *   assert.equal(Deno.readTextFileSync(`${directory}/crate-1/s-1-2-abc/dep-graph.bin`), "state");
 * }
 * assert.throws(() => Deno.statSync(directory)); // removed once disposed
 * assert.equal(Deno.readTextFileSync(`${session}/dep-graph.bin`), "state");
 * Deno.removeSync(root, { recursive: true });
 * ```
 */
export async function leaseStoreCopy(
  root: string,
  warn: (line: string) => void,
): Promise<StoreLease | undefined> {
  const directory = `${root}/scratch/${scratchPrefix()}${crypto.randomUUID()}`;
  try {
    refuseSymlinks(root);
    removeStaleCopies(root);
    Deno.mkdirSync(directory, { recursive: true });
  } catch (error) {
    warn(wrapperMessage(
      `incremental store ${root} unusable (${describeError(error)}): ` +
        "compiling without incremental state",
    ));
    return undefined;
  }
  const report = await seedDirectory({
    pair: { source: `${root}/incr`, destination: directory },
    minMb: 0,
    missingIsExpected: true,
    user: undefined, // rustc stops before codegen: it writes no object file
    warn,
  });
  return {
    directory,
    kept: report.files > 0,
    [Symbol.dispose]: () => {
      try {
        removeIfPresent(directory);
      } catch {
        // A leftover private copy wastes disk, nothing more.
      }
    },
  };
}

/**
 * Takes an exclusive `flock` on `file`, trying without blocking every
 * {@linkcode POLL_MS}: a blocking `flock` runs on a thread nothing can
 * interrupt, and a worker must still answer a cancel or SIGTERM while a
 * store is busy. Returns `false`, without the lock, once `cancel` is aborted.
 */
async function lockUnlessCancelled(file: Deno.FsFile, cancel?: AbortSignal): Promise<boolean> {
  while (!file.tryLockSync(true)) {
    if (cancel?.aborted) return false;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        cancel?.removeEventListener("abort", wake);
        resolve();
      }, POLL_MS);
      cancel?.addEventListener("abort", wake, { once: true });
    });
  }
  return true;
}

/** Throws when `root` or one of its entries is a symbolic link. */
function refuseSymlinks(root: string): void {
  for (const path of [root, ...STORE_ENTRIES.map((entry) => `${root}/${entry}`)]) {
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(path);
    } catch {
      continue; // Not made yet.
    }
    if (info.isSymlink) throw new Error(`${path} is a symbolic link`);
  }
}

/**
 * Waits until the child recorded in `path` (by a wrapper that may have died)
 * has ended; `false` once `cancel` is aborted first.
 */
async function waitForOwner(path: string, cancel?: AbortSignal): Promise<boolean> {
  let owner: ProcessIdentity | undefined;
  try {
    const [pid, start] = Deno.readTextFileSync(path).trim().split(" ");
    owner = { pid: Number(pid), start };
  } catch {
    return true; // No record: no child left.
  }
  while (isRunning(owner)) {
    if (cancel?.aborted) return false;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return true;
}

let ownPrefix: string | undefined;

/** A private copy's name begins with its process's id and start time, to tell when it is stale. */
function scratchPrefix(): string {
  const { pid, start } = processIdentity(Deno.pid);
  return ownPrefix ??= `${pid}-${start ?? ""}-`;
}

/** Removes the private copies of processes that have ended (killed before removing their own). */
function removeStaleCopies(root: string): void {
  if (processIdentity(Deno.pid).start === undefined) return; // No /proc: no way to tell.
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(`${root}/scratch`)];
  } catch {
    return;
  }
  for (const { name } of entries) {
    const [pid, start] = name.split("-");
    if (isRunning({ pid: Number(pid), start })) continue;
    try {
      removeIfPresent(`${root}/scratch/${name}`);
    } catch {
      // Another run removes it, or the next one will.
    }
  }
}

/**
 * Removes `path` (a tree too) if it is there.
 *
 * @example
 * ```ts
 * import { removeIfPresent } from "./incremental_store.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * removeIfPresent(`${dir}/nothing-here`); // no error
 * removeIfPresent(dir);
 * assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);
 * ```
 */
export function removeIfPresent(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

function readKey(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}
