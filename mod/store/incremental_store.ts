/**
 * A persistent home for one crate's rustc incremental state, outside Bazel's
 * outputs: no seed action, no tree artifact, nothing for a cache to store.
 * rustc reuses its state only from the same working directory, so the
 * actions using a store run unsandboxed or in a persistent worker, both in
 * the execroot.
 *
 * Safety rules, each enforced here:
 * - **Keyed.** The integration names one store per label and configuration;
 *   the store also remembers a digest of the child's command line (`key`),
 *   and empties itself when that changes, so changed flags never meet old
 *   state and disk stays bounded (rustc keeps two sessions).
 * - **One user at a time.** An exclusive `flock` on `lock` is held while
 *   the child runs; another process or worker request waits for it.
 * - **Sound after a crash or restart.** Nothing is kept in memory: the lock
 *   dies with its process, and rustc ignores an unfinished (`-working`)
 *   session it finds.
 * - **Never fatal.** Any problem is one line, and the child runs without
 *   `-Cincremental`, i.e. exactly a non-incremental build.
 *
 * A metadata run (`--rustc-quit-on-rmeta`) is killed before rustc finalizes
 * its session, so it never writes the store: it gets a private copy of the
 * store's newest session instead ({@linkcode leaseStoreCopy}), hard-linked
 * in a few milliseconds and removed afterwards. It takes no lock, so it runs
 * beside its crate's compile, and its `.rmeta` has the same crate hash as
 * the compile's `.rlib` (both are built with `-Cincremental`).
 *
 * @module
 */

import { describeError, WrapperError, wrapperMessage } from "../errors.ts";
import { seedDirectory } from "../seed/mod.ts";

/** A store held for one run; dispose it once the child has exited. */
export interface StoreLease extends Disposable {
  /** rustc's `-Cincremental` directory inside the store. */
  readonly directory: string;
  /** Whether earlier state is there to reuse (same key, or a session copied), or none. */
  readonly kept: boolean;
}

/**
 * The key of a child command line: a SHA-256 hex digest of its words.
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
 * Takes the store at `root` for a child run with command line `argv`:
 * creates it if missing, waits for its lock (until `cancel` is aborted), and
 * empties it when `argv`'s key differs from the one it holds. Returns
 * `undefined` after one `warn` line when the store cannot be used.
 *
 * @example
 * ```ts
 * import { leaseIncrementalStore } from "./incremental_store.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * const root = `${dir}/lib.store`;
 * // A lock left held (a lease never disposed) fails this example by name instead of hanging it.
 * const bound = () => AbortSignal.timeout(10_000);
 * {
 *   using lease = (await leaseIncrementalStore(root, ["rustc", "lib.rs"], console.error, bound()))!;
 *   assert.equal(lease.directory, `${root}/incr`);
 *   assert.equal(lease.kept, false); // a new store
 *   Deno.mkdirSync(lease.directory); // what rustc does
 * }
 * {
 *   using again = (await leaseIncrementalStore(root, ["rustc", "lib.rs"], console.error, bound()))!;
 *   assert.equal(again.kept, true);
 * }
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @throws {WrapperError} when `cancel` is aborted while it waits for the lock.
 */
export async function leaseIncrementalStore(
  root: string,
  argv: readonly string[],
  warn: (line: string) => void,
  cancel?: AbortSignal,
): Promise<StoreLease | undefined> {
  let lock: Deno.FsFile | undefined;
  try {
    Deno.mkdirSync(root, { recursive: true });
    lock = await Deno.open(`${root}/lock`, { read: true, write: true, create: true, mode: 0o600 });
    if (!await lockUnlessCancelled(lock, cancel)) {
      throw new WrapperError(`incremental store ${root}: cancelled while waiting for its lock`);
    }
    const key = await storeKey(argv);
    const directory = `${root}/incr`;
    const kept = readKey(`${root}/key`) === key;
    if (!kept) {
      removeIfPresent(directory);
      Deno.writeTextFileSync(`${root}/key`, `${key}\n`);
    }
    const held = lock;
    return { directory, kept, [Symbol.dispose]: () => held.close() };
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
  const directory = `${root}/scratch/${crypto.randomUUID()}`;
  try {
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

/** How often a wait for a store's lock tries again: short next to any compile. */
const LOCK_POLL_MS = 50;

/**
 * Takes an exclusive `flock` on `file`, trying without blocking every
 * {@linkcode LOCK_POLL_MS}: a blocking `flock` runs on a thread nothing can
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
      }, LOCK_POLL_MS);
      cancel?.addEventListener("abort", wake, { once: true });
    });
  }
  return true;
}

function removeIfPresent(path: string): void {
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
