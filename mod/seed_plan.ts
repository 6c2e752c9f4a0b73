/**
 * Decides what to seed from a walked tree, so that rustc really reuses it
 * (see `RUSTC_INCREMENTAL_FACTS.md`). Pure.
 *
 * rustc's incremental directory holds, per crate, session directories
 * `s-<time>-<random>-<svh>` with a lock file `s-<time>-<random>.lock` beside
 * each. rustc reuses only the newest finalized session, only when it can open
 * that session's lock read-write, and only when it may write the `.o` files it
 * reuses. So in a crate directory the plan keeps the newest finalized session,
 * gives it a fresh lock of its own (a hardlinked lock would share `flock`
 * state with the seed), links the files rustc only replaces, and copies the
 * `.o` files writable when the seed's are not. Any other tree is seeded as a
 * plain tree: every directory made, every file linked.
 *
 * @module
 */

import type { TreeWalk, WalkedFile } from "./walk.ts";

/** How one file gets into the destination. */
export type FileMethod =
  /** Hard link, copy where the file system refuses links. */
  | "link"
  /** A copy the current user can write (rustc must be able to write reused objects). */
  | "writable-copy";

/** One file to seed. */
export interface PlannedSeedFile {
  /** The file as walked (path relative to the seed root). */
  readonly file: WalkedFile;
  /** How it gets into the destination. */
  readonly method: FileMethod;
  /** Its position in the walk's `files`. */
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

const SESSION_NAME = /^(s-[0-9a-z]+-[0-9a-z]+)-([0-9a-z]+)$/;
const LOCK_NAME = /^s-[0-9a-z]+-[0-9a-z]+\.lock$/;
const WORKING_SUFFIX = "working";

/**
 * The lock-file name of a session directory name, or `undefined` when the
 * name is not a finalized rustc session.
 *
 * @example
 * ```ts
 * import { sessionLockName } from "./seed_plan.ts";
 * sessionLockName("s-hoh26h9y7v-08psrm5-4qdxcmiycgwseyxwbnyf403ui"); // "s-hoh26h9y7v-08psrm5.lock"
 * sessionLockName("s-hoh26h9y7v-08psrm5-working"); // undefined
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
 * import { isWritableBy } from "./seed_plan.ts";
 * isWritableBy({ path: "a.o", size: 1, mode: 0o444, uid: 0 }, { uid: 0 }); // false
 * ```
 */
export function isWritableBy(file: WalkedFile, user: SeedUser): boolean {
  return (file.mode & 0o200) !== 0 && (user.uid === 0 || user.uid === file.uid);
}

/**
 * Plans the seed of a walked tree.
 *
 * @example
 * ```ts
 * import { planSeed } from "./seed_plan.ts";
 * const walk = { directories: ["a"], files: [{ path: "a/x", size: 1, mode: 0o644, uid: 0 }], totalBytes: 1, skipped: 0 };
 * planSeed(walk, { uid: 0 }).files.length; // 1
 * ```
 */
export function planSeed(walk: TreeWalk, user: SeedUser): SeedPlan {
  const children = new Map<string, string[]>();
  for (const directory of walk.directories) {
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
    for (const [index, file] of walk.files.entries()) files.push({ file, method: "link", index });
    return { directories: walk.directories, files, freshLocks, sessions: 0 };
  }
  for (const [index, file] of walk.files.entries()) {
    if (isExcluded(file.path)) continue;
    const parent = parentOf(file.path);
    const name = file.path.slice(parent.length === 0 ? 0 : parent.length + 1);
    // Old locks stay behind: the kept session gets a fresh one.
    if (crateDirectories.has(parent) && LOCK_NAME.test(name)) continue;
    const inSession = keptSessions.has(parent);
    const method = inSession && name.endsWith(".o") && !isWritableBy(file, user)
      ? "writable-copy"
      : "link";
    files.push({ file, method, index });
  }

  return {
    directories: walk.directories.filter((directory) => !isExcluded(directory)),
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
