/**
 * Puts planned files into a destination, on the calling thread: a hard link
 * where the file system allows, a copy where it refuses (another device, no
 * link support, too many links), a writable copy of an object file rustc
 * could not write. `seed_threads.ts` runs it on several threads at once.
 *
 * @module
 */

import { type FileMethod, isWritableBy, type SeedUser } from "./seed_plan.ts";

/** One file to place, relative to both roots. */
export interface FileToPlace {
  /** Path relative to the source and destination roots. */
  readonly path: string;
  /** How it gets there. */
  readonly method: FileMethod;
}

/** What placing did. */
export interface PlaceTally {
  /** Files hard-linked. */
  linked: number;
  /** Files copied. */
  copied: number;
  /** Bytes copied (a hard link copies none). */
  bytesCopied: number;
  /** Threads that placed files (1 = the calling thread alone). */
  threads: number;
}

const LINK_REFUSED = new Set(["EXDEV", "EPERM", "EMLINK", "ENOTSUP", "EOPNOTSUPP"]);

/**
 * An empty tally, for one thread.
 *
 * @example
 * ```ts
 * import { emptyTally } from "./place_files.ts";
 * emptyTally(); // { linked: 0, copied: 0, bytesCopied: 0, threads: 1 }
 * ```
 */
export function emptyTally(): PlaceTally {
  return { linked: 0, copied: 0, bytesCopied: 0, threads: 1 };
}

/**
 * Places `files` from `source` into `destination` on this thread, for
 * `user`, who must be able to write the objects (`undefined`: nobody will
 * in this run, so they are linked like any file). Every path it creates is
 * pushed to `created` first, so that a caller can remove exactly what was
 * made when it throws. Never replaces an existing file.
 *
 * @example
 * ```ts
 * import { emptyTally, placeFiles } from "./place_files.ts";
 * const created: string[] = [];
 * const tally = emptyTally();
 * placeFiles("seed", "dest", [{ path: "a.bin", method: "link" }], { uid: 0 }, created, tally);
 * ```
 *
 * @throws the underlying `Deno.errors.*` error (its message names the path).
 */
export function placeFiles(
  source: string,
  destination: string,
  files: readonly FileToPlace[],
  user: SeedUser | undefined,
  created: string[],
  tally: PlaceTally,
): void {
  for (const { path, method } of files) {
    const from = `${source}/${path}`;
    const to = `${destination}/${path}`;
    const object = method === "object" && user !== undefined ? objectInfo(from, user) : undefined;
    if (!object?.needsCopy && tryLink(from, to)) {
      created.push(to);
      tally.linked++;
      continue;
    }
    // createNew: never clobber what is already there.
    Deno.writeFileSync(to, new Uint8Array(), { createNew: true });
    created.push(to);
    Deno.copyFileSync(from, to);
    if (object !== undefined) Deno.chmodSync(to, object.mode | 0o200);
    tally.copied++;
    tally.bytesCopied += object?.size ?? Deno.lstatSync(to).size;
  }
}

/** An object file's permission bits and size, and whether `user` needs a writable copy of it. */
function objectInfo(path: string, user: SeedUser) {
  const info = Deno.lstatSync(path);
  const mode = (info.mode ?? 0) & 0o7777;
  return { mode, size: info.size, needsCopy: !isWritableBy({ mode, uid: info.uid ?? 0 }, user) };
}

/** Links `from` to `to`; `false` where the file system refuses links, so the caller copies. */
function tryLink(from: string, to: string): boolean {
  try {
    Deno.linkSync(from, to);
    return true;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== undefined && LINK_REFUSED.has(code)) return false;
    throw error;
  }
}
