/**
 * Puts planned files into a destination, on the calling thread: a hard link
 * where the file system allows, a copy where it refuses (another device, no
 * link support, too many links), a writable copy of an object file rustc
 * could not write. `threads.ts` runs it on several threads at once.
 *
 * @module
 */

import { type FileMethod, isWritableBy, type SeedUser } from "./session_plan.ts";

/** One file to place, relative to both roots. */
export interface FileToPlace {
  /** Path relative to the source and destination roots. */
  readonly path: string;
  /** How it gets there. */
  readonly method: FileMethod;
}

/** Where files are placed, for whom, and the record of what was created. */
export interface PlaceContext {
  /** The seed root. */
  readonly source: string;
  /** The destination root. */
  readonly destination: string;
  /** Who must be able to write the objects (`undefined`: nobody in this run; link them). */
  readonly user: SeedUser | undefined;
  /**
   * Every path created is appended here before anything else can fail, so
   * that a caller can remove exactly what was made when placing throws.
   */
  readonly created: string[];
}

/** What placing did. */
export interface PlaceTally {
  /** Files hard-linked. */
  linked: number;
  /** Files copied. */
  copied: number;
  /** Bytes copied (a hard link copies none). */
  bytesCopied: number;
}

const LINK_REFUSED = new Set(["EXDEV", "EPERM", "EMLINK", "ENOTSUP", "EOPNOTSUPP"]);

/**
 * An empty tally.
 *
 * @example
 * ```ts
 * import { emptyTally } from "./place.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(emptyTally(), { linked: 0, copied: 0, bytesCopied: 0 });
 * ```
 */
export function emptyTally(): PlaceTally {
  return { linked: 0, copied: 0, bytesCopied: 0 };
}

/**
 * Adds `more` into `total` and returns `total`.
 *
 * @example
 * ```ts
 * import { addTally } from "./place.ts";
 * import assert from "node:assert/strict";
 * const total = addTally({ linked: 1, copied: 0, bytesCopied: 0 }, { linked: 2, copied: 1, bytesCopied: 9 });
 * assert.deepEqual(total, { linked: 3, copied: 1, bytesCopied: 9 });
 * ```
 */
export function addTally(total: PlaceTally, more: PlaceTally): PlaceTally {
  total.linked += more.linked;
  total.copied += more.copied;
  total.bytesCopied += more.bytesCopied;
  return total;
}

/**
 * Places `files` on this thread and returns what it did. Never replaces an
 * existing file.
 *
 * @example
 * ```ts
 * import { placeFiles } from "./place.ts";
 * import assert from "node:assert/strict";
 * const source = Deno.makeTempDirSync();
 * const destination = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${source}/a.bin`, "state");
 * const created: string[] = [];
 * const tally = placeFiles({ source, destination, user: undefined, created }, [{ path: "a.bin", method: "link" }]);
 * assert.deepEqual(tally, { linked: 1, copied: 0, bytesCopied: 0 });
 * assert.deepEqual(created, [`${destination}/a.bin`]);
 * Deno.removeSync(source, { recursive: true });
 * Deno.removeSync(destination, { recursive: true });
 * ```
 *
 * @throws the underlying `Deno.errors.*` error (its message names the path).
 */
export function placeFiles(context: PlaceContext, files: readonly FileToPlace[]): PlaceTally {
  const { source, destination, user, created } = context;
  const tally = emptyTally();
  for (const { path, method } of files) {
    const from = `${source}/${path}`;
    const to = `${destination}/${path}`;
    const object = method === "object" && user !== undefined ? objectInfo(from, user) : undefined;
    if (!object?.needsCopy && tryLink(from, to)) {
      created.push(to);
      tally.linked++;
      continue;
    }
    const bytes = copyRegularFile(from, to, created);
    if (object !== undefined) Deno.chmodSync(to, object.mode | 0o200);
    tally.copied++;
    tally.bytesCopied += bytes;
  }
  return tally;
}

/**
 * Copies the regular file `from` into the new file `to` (never clobbering
 * one that is there; `to` is appended to `created` once made) and returns the
 * bytes copied. `from` must still be the regular file it was: a symlink or a
 * FIFO put in its place after the listing is refused, not followed or
 * opened, and a file swapped between the check and the open is detected.
 *
 * @example
 * ```ts
 * import { copyRegularFile } from "./place.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/a`, "abc");
 * assert.equal(copyRegularFile(`${dir}/a`, `${dir}/b`, []), 3);
 * Deno.symlinkSync(`${dir}/a`, `${dir}/link`);
 * assert.throws(() => copyRegularFile(`${dir}/link`, `${dir}/c`, []), /not a regular file/);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function copyRegularFile(from: string, to: string, created: string[]): number {
  const listed = Deno.lstatSync(from);
  if (!listed.isFile) throw new Error(`${from} is not a regular file any more`);
  using source = Deno.openSync(from);
  const opened = source.statSync();
  if (opened.ino !== listed.ino || opened.dev !== listed.dev) {
    throw new Error(`${from} was replaced while it was being copied`);
  }
  // createNew: never clobber what is already there.
  using target = Deno.openSync(to, { write: true, createNew: true });
  created.push(to);
  const buffer = new Uint8Array(Math.min(Math.max(opened.size, 1), COPY_BUFFER_BYTES));
  let copied = 0;
  for (let read = source.readSync(buffer); read !== null; read = source.readSync(buffer)) {
    for (let written = 0; written < read;) {
      written += target.writeSync(buffer.subarray(written, read));
    }
    copied += read;
  }
  return copied;
}

const COPY_BUFFER_BYTES = 1024 * 1024;

/** An object file's permission bits and size, and whether `user` needs a writable copy of it. */
function objectInfo(path: string, user: SeedUser) {
  const info = Deno.lstatSync(path);
  const mode = (info.mode ?? 0) & 0o7777;
  return { mode, size: info.size, needsCopy: !isWritableBy({ mode, uid: info.uid ?? 0 }, user) };
}

/**
 * The `errno` name of a file-system error. Deno leaves `code` unset for some
 * (EMLINK among them: "Too many links (os error 31)"), so the number in the
 * message is read too.
 */
function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: string }).code;
  if (code !== undefined) return code;
  const errno = /\(os error (\d+)\)/.exec(error instanceof Error ? error.message : "")?.[1];
  return errno === undefined ? undefined : ERRNO_NAMES[Number(errno)];
}

/** The link refusals Deno reports without a code, by number (Linux). */
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  18: "EXDEV",
  31: "EMLINK",
  95: "EOPNOTSUPP",
};

/** Links `from` to `to`; `false` where the file system refuses links, so the caller copies. */
function tryLink(from: string, to: string): boolean {
  try {
    Deno.linkSync(from, to);
    return true;
  } catch (error) {
    if (LINK_REFUSED.has(errorCode(error) ?? "")) return false;
    throw error;
  }
}
