/**
 * Evidence that rustc reused its incremental cache, read from the files it
 * left: a reused `.o` in the newest session is a hard link (same inode) of
 * an older session's `.o`. No unstable rustc flags, no wall time.
 *
 * @module
 */

/** What the newest session of a crate's incremental directory shows. */
export interface SessionReuse {
  /** Object files in the newest finalized session. */
  readonly objects: number;
  /** Of those, hard links of an older session's objects. */
  readonly reused: number;
  /** Finalized sessions in the crate directory. */
  readonly sessions: number;
}

/**
 * Measures reuse in `incr`, an incremental directory holding one crate.
 *
 * @example
 * ```ts
 * import { sessionReuse } from "./rustc_reuse.ts";
 * const { objects, reused } = sessionReuse("/tmp/build/incr");
 * ```
 */
export function sessionReuse(incr: string): SessionReuse {
  const crates = [...Deno.readDirSync(incr)].filter((entry) => entry.isDirectory);
  if (crates.length !== 1) {
    throw new Error(`${incr} holds ${crates.length} crate directories, not 1`);
  }
  const crate = `${incr}/${crates[0].name}`;
  const sessions = [...Deno.readDirSync(crate)]
    .filter((entry) =>
      entry.isDirectory && entry.name.startsWith("s-") && !entry.name.endsWith("-working")
    )
    .map((entry) => entry.name)
    .sort();
  const objectInodes = (session: string) =>
    [...Deno.readDirSync(`${crate}/${session}`)]
      .filter((entry) => entry.name.endsWith(".o"))
      .map((entry) => Deno.statSync(`${crate}/${session}/${entry.name}`).ino);
  const older = new Set(sessions.slice(0, -1).flatMap(objectInodes));
  const newest = sessions.length === 0 ? [] : objectInodes(sessions.at(-1)!);
  return {
    objects: newest.length,
    reused: newest.filter((ino) => older.has(ino)).length,
    sessions: sessions.length,
  };
}
