/**
 * Lists a seed tree: its directories and its regular files, by reading
 * directories only (no file is stat'ed here: seeding stats just the files it
 * must). Symbolic links are skipped, never followed, so a link loop cannot
 * hang the listing.
 *
 * @module
 */

/**
 * Whether `path` is a directory, following symlinks: the root itself may be
 * reached through one (Bazel's convenience links), only its contents are not.
 *
 * @example
 * ```ts
 * import { isDirectory } from "./walk.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(isDirectory("/tmp"), true);
 * ```
 */
export function isDirectory(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** The names {@linkcode listTree} found. */
export interface TreeListing {
  /** Directories below the root, relative, each after its parent. */
  readonly directories: readonly string[];
  /** Regular files (by their directory entry), relative; symlinks and other entries are passed over. */
  readonly files: readonly string[];
}

/**
 * Lists `root` (which must be a directory) by reading directories only; an
 * entry's type comes from its directory entry.
 *
 * @example
 * ```ts
 * import { listTree } from "./walk.ts";
 * import assert from "node:assert/strict";
 * const root = Deno.makeTempDirSync();
 * Deno.mkdirSync(`${root}/crate/s-1-2-abc`, { recursive: true });
 * Deno.writeTextFileSync(`${root}/crate/s-1-2-abc/dep-graph.bin`, "");
 * Deno.symlinkSync("/", `${root}/crate/loop`); // skipped, never followed
 * assert.deepEqual(listTree(root), {
 *   directories: ["crate", "crate/s-1-2-abc"],
 *   files: ["crate/s-1-2-abc/dep-graph.bin"],
 * });
 * Deno.removeSync(root, { recursive: true });
 * ```
 *
 * @throws the underlying `Deno.errors.*` error, with the failing path in its
 * message, when a directory can't be read.
 */
export function listTree(root: string): TreeListing {
  const directories: string[] = [];
  const files: string[] = [];
  const pending: string[] = [""];
  while (pending.length > 0) {
    const relative = pending.pop()!;
    const absolute = relative === "" ? root : `${root}/${relative}`;
    for (const entry of Deno.readDirSync(absolute)) {
      const child = relative === "" ? entry.name : `${relative}/${entry.name}`;
      // Deno hands over a name that is not UTF-8 with U+FFFD in place of its bytes: opening
      // that name could reach another entry (a look-alike symlink), so such a seed is refused.
      if (entry.name.includes("\uFFFD")) {
        throw new Error(`${absolute}: a name is not valid UTF-8 (${JSON.stringify(entry.name)})`);
      }
      if (entry.isDirectory) {
        directories.push(child);
        pending.push(child);
      } else if (entry.isFile) {
        files.push(child);
      }
    }
  }
  return { directories, files };
}
