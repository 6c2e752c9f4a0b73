/**
 * Decides what to seed from a listed tree, so that rustc really reuses it
 * (see `RUSTC_INCREMENTAL_FACTS.md`). Pure.
 *
 * rustc's incremental directory holds, per crate, session directories
 * `s-<time>-<random>-<svh>` with a lock file `s-<time>-<random>.lock` beside
 * each. rustc reuses only the newest finalized session, only when it can open
 * that session's lock read-write, and only when it may write the `.o` files it
 * reuses. So in a crate directory the plan keeps the newest finalized session,
 * gives it a fresh lock of its own (a hardlinked lock would share `flock`
 * state with the seed), links the files rustc only replaces, and marks the
 * `.o` files as objects: placed as links when the user may write them, as
 * writable copies when not (decided where they are placed, by one `lstat`
 * each, so planning needs no file's metadata). Any other tree is seeded as a
 * plain tree: every directory made, every file linked.
 *
 * @module
 */

import type { TreeListing } from "./walk.ts";

/** How one file gets into the destination. */
export type FileMethod =
  /** Hard link, copy where the file system refuses links. */
  | "link"
  /**
   * An object file rustc may reuse, which it must be able to write: a link
   * when the user may write the seed's file, else a writable copy.
   */
  | "object";

/** One file to seed. */
export interface PlannedSeedFile {
  /** Path relative to the seed root. */
  readonly path: string;
  /** How it gets into the destination. */
  readonly method: FileMethod;
  /** Its position in the listing's `files`. */
  readonly index: number;
}

/** What to create in the destination. */
export interface SeedPlan {
  /** Directories to create, relative, each after its parent. */
  readonly directories: readonly string[];
  /** Files to seed. */
  readonly files: readonly PlannedSeedFile[];
  /** Empty, writable lock files to create, relative. */
  readonly freshLocks: readonly string[];
  /** How many rustc sessions the plan seeds. */
  readonly sessions: number;
}

/** Who will run rustc on the seeded tree. */
export interface SeedUser {
  /** The user id rustc runs as. */
  readonly uid: number;
}

/** The permission bits and owner of a file. */
export interface FileOwnership {
  /** Permission bits (`st_mode & 0o7777`). */
  readonly mode: number;
  /** Owner's user id. */
  readonly uid: number;
}

const SESSION_NAME = /^(s-[0-9a-z]+-[0-9a-z]+)-([0-9a-z]+)$/;
const LOCK_NAME = /^s-[0-9a-z]+-[0-9a-z]+\.lock$/;
const WORKING_SUFFIX = "working";

/**
 * The lock-file name of a session directory name, or `undefined` when the
 * name is not a finalized rustc session.
 *
 * @example
 * ```ts
 * import { sessionLockName } from "./session_plan.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(sessionLockName("s-hoh26h9y7v-08psrm5-4qdxcmiycgwseyxwbnyf403ui"), "s-hoh26h9y7v-08psrm5.lock");
 * assert.deepEqual(sessionLockName("s-hoh26h9y7v-08psrm5-working"), undefined);
 * ```
 */
export function sessionLockName(name: string): string | undefined {
  const match = SESSION_NAME.exec(name);
  return match && match[2] !== WORKING_SUFFIX ? `${match[1]}.lock` : undefined;
}

/**
 * Whether the user can write `file` in place, by its permission bits (rustc
 * checks the bits, so even root needs a write bit).
 *
 * @example
 * ```ts
 * import { isWritableBy } from "./session_plan.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(isWritableBy({ mode: 0o444, uid: 0 }, { uid: 0 }), false);
 * ```
 */
export function isWritableBy(file: FileOwnership, user: SeedUser): boolean {
  return (file.mode & 0o200) !== 0 && (user.uid === 0 || user.uid === file.uid);
}

/**
 * Plans the seed of a listed tree.
 *
 * @example
 * ```ts
 * import { planSeed } from "./session_plan.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(planSeed({ directories: ["a"], files: ["a/x"] }).files, [{ path: "a/x", method: "link", index: 0 }]);
 * ```
 */
export function planSeed(listing: TreeListing): SeedPlan {
  const children = new Map<string, string[]>();
  for (const directory of listing.directories) {
    const slash = directory.lastIndexOf("/");
    const parent = slash < 0 ? "" : directory.slice(0, slash);
    const name = directory.slice(slash + 1);
    const siblings = children.get(parent);
    if (siblings) siblings.push(name);
    else children.set(parent, [name]);
  }

  // Directories whose contents are left out (older and unfinished sessions),
  // and the session kept in each crate directory.
  const excluded = new Set<string>();
  const keptSessions = new Set<string>();
  const freshLocks: string[] = [];
  const crateDirectories = new Set<string>();
  for (const [parent, names] of children) {
    const sessions = names.filter((name) => SESSION_NAME.test(name));
    if (sessions.length === 0) continue;
    crateDirectories.add(parent);
    const newest = newestFinalizedSession(sessions);
    for (const name of sessions) {
      const path = parent === "" ? name : `${parent}/${name}`;
      if (name === newest) {
        keptSessions.add(path);
        freshLocks.push(
          parent === "" ? sessionLockName(name)! : `${parent}/${sessionLockName(name)}`,
        );
      } else {
        excluded.add(path);
      }
    }
  }

  const isExcluded = (path: string) => {
    for (let slash = path.indexOf("/");; slash = path.indexOf("/", slash + 1)) {
      if (excluded.has(slash < 0 ? path : path.slice(0, slash))) return true;
      if (slash < 0) return false;
    }
  };
  const parentOf = (path: string) => {
    const slash = path.lastIndexOf("/");
    return slash < 0 ? "" : path.slice(0, slash);
  };

  const files: PlannedSeedFile[] = [];
  if (crateDirectories.size === 0) {
    // Not a rustc incremental tree: a plain tree, every file linked.
    for (const [index, path] of listing.files.entries()) {
      files.push({ path, method: "link", index });
    }
    return { directories: listing.directories, files, freshLocks, sessions: 0 };
  }
  for (const [index, path] of listing.files.entries()) {
    if (isExcluded(path)) continue;
    const parent = parentOf(path);
    const name = path.slice(parent.length === 0 ? 0 : parent.length + 1);
    // Old locks stay behind: the kept session gets a fresh one.
    if (crateDirectories.has(parent) && LOCK_NAME.test(name)) continue;
    const method = keptSessions.has(parent) && name.endsWith(".o") ? "object" : "link";
    files.push({ path, method, index });
  }

  return {
    directories: listing.directories.filter((directory) => !isExcluded(directory)),
    files,
    freshLocks,
    sessions: keptSessions.size,
  };
}

/** The newest finalized session by its time stamp (base 36), ties by name. */
function newestFinalizedSession(names: readonly string[]): string | undefined {
  let newest: string | undefined;
  let newestTime = -1;
  for (const name of names) {
    if (sessionLockName(name) === undefined) continue;
    const time = parseInt(name.slice(2, name.indexOf("-", 2)), 36);
    if (time > newestTime || (time === newestTime && newest !== undefined && name > newest)) {
      newest = name;
      newestTime = time;
    }
  }
  return newest;
}
