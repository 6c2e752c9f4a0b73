/**
 * Seeding: puts a copy of a previous incremental tree into place before rustc
 * runs, by hard links where the file system allows and copies where it does
 * not. Never fatal: any failure is reported in one line, what was partly
 * seeded is removed, and rustc starts cold. The seed itself is never written.
 *
 * @module
 */

import { debug } from "../debug.ts";
import { describeError, wrapperMessage } from "../errors.ts";
import type { PathPair } from "../args/options.ts";
import { planSeed, type SeedPlan, type SeedUser } from "./session_plan.ts";
import { PlaceFailure, SeedThreads } from "./threads.ts";
import { isBelowThreshold, thresholdBytes } from "./threshold.ts";
import { isDirectory, listTree } from "./walk.ts";

/** What seeding did, as `--seed-report` writes it. */
export interface SeedReport {
  /** `hardlink`, `copy` or `mixed` when files were seeded; else why not. */
  mode: "hardlink" | "copy" | "mixed" | "skipped-threshold" | "cold-missing" | "failed";
  /** The seed tree. */
  source: string;
  /** The directory seeded. */
  destination: string;
  /** Files seeded (fresh lock files included). */
  files: number;
  /** Of those, hard links. */
  linked: number;
  /** Of those, copies. */
  copied: number;
  /** Bytes copied (a hard link copies none). */
  bytes_copied: number;
  /**
   * Bytes of the seed's regular files counted against the threshold: all of
   * them when the seed is below it; counting stops once it is reached (so 0
   * with `--seed-min-mb 0`).
   */
  bytes_counted: number;
  /** Directories created. */
  directories: number;
  /** rustc sessions seeded. */
  sessions: number;
  /** Threads that placed files (large trees are linked in parallel). */
  threads: number;
  /** Wall time of the whole step, walk included. */
  milliseconds: number;
  /** The `--seed-min-mb` threshold in bytes. */
  threshold_bytes: number;
  /** Why seeding failed, or `null`. */
  error: string | null;
}

/** How to seed. */
export interface SeedRequest {
  /** Seed tree and destination. */
  readonly pair: PathPair;
  /** `--seed-min-mb`. */
  readonly minMb: number;
  /** Whether a missing seed is expected (`--seed-prev-dir`) rather than worth a line. */
  readonly missingIsExpected: boolean;
  /**
   * Who will run rustc on the result; `undefined` when nobody does in this
   * run (`--exit-early`): objects are then linked, and whoever seeds from the
   * result makes its own writable copies (Bazel makes the result read-only
   * anyway, so copies made here would be copied again).
   */
  readonly user: SeedUser | undefined;
  /** Prints the one line a seeding problem gets. */
  readonly warn: (line: string) => void;
}

/**
 * Seeds `pair.destination` from `pair.source`. Never throws for seeding
 * problems: they end in a report with mode `failed` and an empty destination.
 *
 * @example
 * ```ts
 * import { seedDirectory } from "./seed_directory.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * const report = await seedDirectory({
 *   pair: { source: `${dir}/no-previous-build`, destination: `${dir}/lib.seed` },
 *   minMb: 20,
 *   missingIsExpected: true,
 *   user: { uid: Deno.uid() ?? 0 },
 *   warn: console.error,
 * });
 * assert.equal(report.mode, "cold-missing");
 * assert.ok(Deno.statSync(`${dir}/lib.seed`).isDirectory); // rustc finds an empty directory
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export async function seedDirectory(request: SeedRequest): Promise<SeedReport> {
  const started = performance.now();
  const { source, destination } = request.pair;
  const report: SeedReport = {
    mode: "cold-missing",
    source,
    destination,
    files: 0,
    linked: 0,
    copied: 0,
    bytes_copied: 0,
    bytes_counted: 0,
    directories: 0,
    sessions: 0,
    threads: 0,
    milliseconds: 0,
    threshold_bytes: thresholdBytes(request.minMb),
    error: null,
  };
  const finish = () => {
    // Whatever happened, rustc finds its incremental directory (empty when cold).
    if (report.files === 0) ensureDestination(destination);
    report.milliseconds = Math.round((performance.now() - started) * 1000) / 1000;
    return report;
  };

  if (!isDirectory(source)) {
    const line = `seed ${source} is not a directory: starting cold`;
    if (request.missingIsExpected) debug(line);
    else request.warn(wrapperMessage(line));
    return finish();
  }

  const created: Created = { files: [], directories: [] };
  try {
    const listing = listTree(source);
    using threads = SeedThreads.forFiles(listing.files);
    report.bytes_counted = await threads.count(source, report.threshold_bytes);
    if (isBelowThreshold(report.bytes_counted, request.minMb)) {
      report.mode = "skipped-threshold";
      debug(
        `seed ${source} holds ${report.bytes_counted} bytes, below ${report.threshold_bytes}: not seeding`,
      );
      return finish();
    }
    const seeded = await materialize({
      source,
      destination,
      plan: planSeed(listing),
      user: request.user,
      threads,
      created,
    });
    Object.assign(report, seeded);
    report.mode = report.copied === 0 ? "hardlink" : report.linked === 0 ? "copy" : "mixed";
    debug(
      `seeded ${destination} from ${source}: ${report.linked} linked, ${report.copied} copied`,
    );
  } catch (error) {
    const cleanupError = removeCreated(created);
    report.mode = "failed";
    report.error = describeError(error);
    request.warn(wrapperMessage(
      `seeding ${destination} from ${source} failed (${report.error}); ` +
        `starting cold${cleanupError ? `; cleanup also failed: ${cleanupError}` : ""}`,
    ));
  }
  return finish();
}

interface Created {
  files: string[];
  directories: string[];
}

function ensureDirectory(path: string, created: Created): void {
  try {
    Deno.mkdirSync(path);
    created.directories.push(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    // A symlink in DEST is never followed: seeding stays inside DEST.
    if (!Deno.lstatSync(path).isDirectory) throw new Error(`${path} exists and is not a directory`);
  }
}

/** Creates `path` (and parents) if missing; a failure here is left for rustc to report. */
function ensureDestination(path: string): void {
  try {
    Deno.mkdirSync(path, { recursive: true });
  } catch {
    // rustc creates its incremental directory itself, or says why it can't.
  }
}

/** What {@linkcode materialize} works on. */
interface Materialization {
  readonly source: string;
  readonly destination: string;
  readonly plan: SeedPlan;
  readonly user: SeedUser | undefined;
  readonly threads: SeedThreads;
  /** What it created, for cleanup when it throws. */
  readonly created: Created;
}

/** The report fields a successful seed fills in. */
type SeededCounts = Pick<
  SeedReport,
  "files" | "linked" | "copied" | "bytes_copied" | "directories" | "sessions" | "threads"
>;

async function materialize(work: Materialization): Promise<SeededCounts> {
  const { source, destination, plan, created } = work;
  ensureDestination(destination);
  for (const directory of plan.directories) {
    ensureDirectory(`${destination}/${directory}`, created);
  }
  let placed;
  try {
    placed = await work.threads.place(source, destination, plan.files, work.user);
  } catch (error) {
    if (error instanceof PlaceFailure) created.files.push(...error.created);
    throw error;
  }
  created.files.push(...plan.files.map((file) => `${destination}/${file.path}`));
  for (const lock of plan.freshLocks) {
    const path = `${destination}/${lock}`;
    Deno.writeFileSync(path, new Uint8Array(), { createNew: true, mode: 0o600 });
    created.files.push(path);
  }
  return {
    files: placed.tally.linked + placed.tally.copied + plan.freshLocks.length,
    linked: placed.tally.linked,
    copied: placed.tally.copied,
    bytes_copied: placed.tally.bytesCopied,
    directories: plan.directories.length,
    sessions: plan.sessions,
    threads: placed.threads,
  };
}

function removeCreated(created: Created): string | undefined {
  let failure: string | undefined;
  for (const path of [...created.files.reverse(), ...created.directories.reverse()]) {
    try {
      Deno.removeSync(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) failure ??= `${path}: ${describeError(error)}`;
    }
  }
  created.files = [];
  created.directories = [];
  return failure;
}
