/**
 * One walk of a seed tree: its directories, its regular files with what
 * seeding needs to know of each, and their total size. Symbolic links are
 * skipped, never followed, so a link loop cannot hang the walk.
 *
 * @module
 */

/** A regular file found by {@linkcode walkTree}. */
export interface WalkedFile {
  /** Path relative to the walked root, `/`-separated. */
  readonly path: string;
  /** Size in bytes. */
  readonly size: number;
  /** Permission bits (`st_mode & 0o7777`). */
  readonly mode: number;
  /** Owner's user id. */
  readonly uid: number;
}

/** What {@linkcode walkTree} found. */
export interface TreeWalk {
  /** Directories below the root, relative, each after its parent. */
  readonly directories: readonly string[];
  /** Regular files, relative. */
  readonly files: readonly WalkedFile[];
  /** Sum of the regular files' sizes. */
  readonly totalBytes: number;
  /** Symbolic links (and other non-regular entries) passed over. */
  readonly skipped: number;
}

/**
 * Whether `path` is a directory, following symlinks: the root itself may be
 * reached through one (Bazel's convenience links), only its contents are not.
 *
 * @example
 * ```ts
 * import { isDirectory } from "./walk.ts";
 * isDirectory("/tmp"); // true
 * ```
 */
export function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** The names {@linkcode listTree} found, before any file is stat'ed. */
export interface TreeListing {
  /** Directories below the root, relative, each after its parent. */
  readonly directories: readonly string[];
  /** Regular files (by their directory entry), relative. */
  readonly files: readonly string[];
  /** Symbolic links (and other non-regular entries) passed over. */
  readonly skipped: number;
}

/**
 * Lists `root` (which must be a directory) by reading directories only: the
 * cheap half of a walk, after which the files can be stat'ed in parallel.
 *
 * @example
 * ```ts
 * import { listTree } from "./walk.ts";
 * console.log(listTree("/tmp").files.length);
 * ```
 *
 * @throws the underlying `Deno.errors.*` error, with the failing path in its
 * message, when a directory can't be read.
 */
export function listTree(root: string): TreeListing {
  const directories: string[] = [];
  const files: string[] = [];
  let skipped = 0;
  const pending: string[] = [""];
  while (pending.length > 0) {
    const relative = pending.pop()!;
    const absolute = relative === "" ? root : `${root}/${relative}`;
    for (const entry of Deno.readDirSync(absolute)) {
      const child = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory) {
        directories.push(child);
        pending.push(child);
      } else if (entry.isFile) {
        files.push(child);
      } else {
        skipped++;
      }
    }
  }
  return { directories, files, skipped };
}

/**
 * Stats one listed file (without following a symlink).
 *
 * @example
 * ```ts
 * import { statListedFile } from "./walk.ts";
 * statListedFile("/etc", "hostname").size;
 * ```
 *
 * @throws `Deno.errors.NotFound` naming the path when the file vanished since it was listed.
 */
export function statListedFile(root: string, path: string): WalkedFile {
  const info = Deno.lstatSync(`${root}/${path}`);
  return { path, size: info.size, mode: (info.mode ?? 0o644) & 0o7777, uid: info.uid ?? 0 };
}

/**
 * Assembles a walk from a listing and its files' stats (in listing order).
 *
 * @example
 * ```ts
 * import { assembleWalk, listTree, statListedFile } from "./walk.ts";
 * const listing = listTree("/tmp");
 * const walk = assembleWalk(listing, listing.files.map((path) => statListedFile("/tmp", path)));
 * ```
 */
export function assembleWalk(listing: TreeListing, files: readonly WalkedFile[]): TreeWalk {
  let totalBytes = 0;
  for (const file of files) totalBytes += file.size;
  return { directories: listing.directories, files, totalBytes, skipped: listing.skipped };
}

/**
 * Walks `root` (which must be a directory) on this thread: a listing, then
 * every file stat'ed.
 *
 * @example
 * ```ts
 * import { walkTree } from "./walk.ts";
 * const walk = walkTree("/tmp");
 * console.log(walk.files.length, walk.totalBytes);
 * ```
 *
 * @throws the underlying `Deno.errors.*` error, with the failing path in its
 * message, when a directory can't be read or a file vanishes mid-walk.
 */
export function walkTree(root: string): TreeWalk {
  const listing = listTree(root);
  return assembleWalk(listing, listing.files.map((path) => statListedFile(root, path)));
}
