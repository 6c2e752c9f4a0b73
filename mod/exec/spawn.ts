/**
 * Starting the child. With `--stdout-file` the child gets the file itself as
 * its stdout, not a pipe (a grandchild that keeps stdout open would otherwise
 * hold the run until it ends). Either way the child is started by
 * `Deno.Command`, so its environment is passed the same way (see
 * {@linkcode childEnvironment}), and the same start errors are one line.
 *
 * @module
 */

import { describeError, WrapperError } from "../errors.ts";
import { startupEnvironment } from "../args/host.ts";
import type { ChildPlan } from "../args/plan.ts";
import type { RunIO } from "./run_io.ts";

/** A started child, whichever way it was started. */
export interface SpawnedChild {
  /** Its process id. */
  readonly pid: number;
  /** Its stdout when piped to the wrapper. */
  readonly stdout?: ReadableStream<Uint8Array>;
  /** Its stderr, always piped to the wrapper. */
  readonly stderr: ReadableStream<Uint8Array>;
  /** How it ended: an exit code, or the signal that killed it. */
  readonly status: Promise<{ readonly code: number; readonly signal: string | null }>;
}

/**
 * Starts the planned child with stderr piped, and stdout piped, inherited, or
 * the open file descriptor `stdout`.
 *
 * @example
 * ```ts
 * import { spawnChild } from "./spawn.ts";
 * import assert from "node:assert/strict";
 * const plan = { executable: "/bin/sh", args: ["-c", "exit 3"], env: Deno.env.toObject(), paramFiles: [], output: { quitOnMetadata: false } };
 * const child = spawnChild(plan, "null", "inherit");
 * await child.stderr.cancel();
 * assert.deepEqual(await child.status, { code: 3, signal: null });
 * ```
 *
 * @throws {WrapperError} when it cannot be started.
 */
export function spawnChild(
  plan: ChildPlan,
  stdin: RunIO["stdin"],
  stdout: "piped" | "inherit" | number,
): SpawnedChild {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(plan.executable, {
      args: [...plan.args],
      ...childEnvironment(plan.env),
      stdin,
      // Deno.Command takes a descriptor (its node:child_process is built on that), though its
      // type names only "piped", "inherit" and "null".
      stdout: stdout as "piped" | "inherit",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    throw spawnError(plan, error);
  }
  return {
    pid: child.pid,
    stdout: stdout === "piped" ? child.stdout : undefined,
    stderr: child.stderr,
    status: child.status.then(({ code, signal }) => ({ code, signal })),
  };
}

/**
 * Starts the planned child with the file at `path` as its stdout and stderr
 * piped. The path is opened as upstream's `File::create` opens it, before the
 * child starts: through symlinks, into a device or a FIFO, a regular file
 * truncated with its mode kept, a new one made `0666` less the umask.
 *
 * @example
 * ```ts
 * import { spawnIntoFile } from "./spawn.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * const path = `${dir}/out.txt`;
 * Deno.writeTextFileSync(path, "old content, longer than the new");
 * const plan = { executable: "/bin/echo", args: ["hi"], env: Deno.env.toObject(), paramFiles: [], output: { quitOnMetadata: false } };
 * const child = await spawnIntoFile(plan, "null", path);
 * await child.stderr.cancel();
 * assert.equal((await child.status).code, 0);
 * assert.equal(Deno.readTextFileSync(path), "hi\n");
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @throws {WrapperError} naming `--stdout-file` when the file cannot be opened, or the child
 * when it cannot be started.
 */
export async function spawnIntoFile(
  plan: ChildPlan,
  stdin: RunIO["stdin"],
  path: string,
): Promise<SpawnedChild> {
  const fs = await import("node:fs");
  let fd: number;
  try {
    fd = fs.openSync(path, "w");
  } catch (error) {
    throw new WrapperError(
      `--stdout-file ${path}: cannot open for writing (${describeError(error)})`,
    );
  }
  try {
    return spawnChild(plan, stdin, fd);
  } finally {
    fs.closeSync(fd);
  }
}

function spawnError(plan: ChildPlan, error: unknown): WrapperError {
  return new WrapperError(
    `failed to spawn child process ${plan.executable}: ${describeError(error)}`,
  );
}

/**
 * The child inherits the wrapper's own environment and gets only what the plan
 * changed on top: a variable whose bytes are not UTF-8 (which Deno cannot hold
 * in a string) then reaches the child untouched, as upstream passes it. A plan
 * that drops an inherited variable gets exactly its environment instead.
 */
function childEnvironment(env: Readonly<Record<string, string>>): Deno.CommandOptions {
  const inherited = startupEnvironment();
  if (Object.keys(inherited).some((key) => !(key in env))) {
    return { env: { ...env }, clearEnv: true };
  }
  return {
    env: Object.fromEntries(Object.entries(env).filter(([key, value]) => inherited[key] !== value)),
  };
}
