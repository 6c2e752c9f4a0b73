/**
 * Starting the child. Deno's `Deno.Command` can give a child only pipes,
 * `inherit` or `null`; with `--stdout-file` the child must get the file itself
 * (a grandchild that keeps stdout open would otherwise hold the run until it
 * ends), which takes `node:child_process` and `node:fs`. Loading them makes
 * such a run about 50 ms slower (measured), so only those runs load them.
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
 * Starts the planned child with stderr piped, and stdout piped when
 * `pipeStdout`, else inherited.
 *
 * @example
 * ```ts
 * import { spawnChild } from "./spawn.ts";
 * import assert from "node:assert/strict";
 * const plan = { executable: "/bin/sh", args: ["-c", "exit 3"], env: Deno.env.toObject(), paramFiles: [], output: { quitOnMetadata: false } };
 * const child = spawnChild(plan, "null", false);
 * await child.stderr.cancel();
 * assert.deepEqual(await child.status, { code: 3, signal: null });
 * ```
 *
 * @throws {WrapperError} when it cannot be started.
 */
export function spawnChild(
  plan: ChildPlan,
  stdin: RunIO["stdin"],
  pipeStdout: boolean,
): SpawnedChild {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(plan.executable, {
      args: [...plan.args],
      ...childEnvironment(plan.env),
      stdin,
      stdout: pipeStdout ? "piped" : "inherit",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    throw spawnError(plan, error);
  }
  return {
    pid: child.pid,
    stdout: pipeStdout ? child.stdout : undefined,
    stderr: child.stderr,
    status: child.status.then(({ code, signal }) => ({ code, signal })),
  };
}

/**
 * Starts the planned child with the file `path` as its stdout and stderr
 * piped. The child writes into a new file beside `path` that is renamed to
 * `path` once the child has started: its first bytes cannot be lost to a
 * truncation after the start, and a child that cannot start leaves `path` as
 * it was.
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
 * @throws {WrapperError} naming `--stdout-file` when the file cannot be made, or the child
 * when it cannot be started.
 */
export async function spawnIntoFile(
  plan: ChildPlan,
  stdin: RunIO["stdin"],
  path: string,
): Promise<SpawnedChild> {
  const [{ spawn }, fs] = await Promise.all([import("node:child_process"), import("node:fs")]);
  const fileError = (error: unknown) =>
    new WrapperError(`--stdout-file ${path}: cannot create (${describeError(error)})`);
  const slash = path.lastIndexOf("/");
  const temporary = `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.${crypto.randomUUID()}`;
  let fd: number;
  try {
    fd = fs.openSync(temporary, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL);
  } catch (error) {
    throw fileError(error);
  }
  try {
    const child = spawn(plan.executable, [...plan.args], {
      env: { ...plan.env },
      stdio: [stdin === "null" ? "ignore" : "inherit", fd, "pipe"],
    });
    const started = await new Promise<Error | undefined>((resolve) => {
      child.once("spawn", () => resolve(undefined));
      child.once("error", resolve);
    });
    if (started !== undefined) throw spawnError(plan, started);
    const status = new Promise<{ code: number; signal: string | null }>((resolve) =>
      child.once("exit", (code, signal) => resolve({ code: code ?? 1, signal }))
    );
    try {
      Deno.renameSync(temporary, path);
    } catch (error) {
      child.kill("SIGKILL");
      await status;
      throw fileError(error);
    }
    return { pid: child.pid!, stderr: byteStream(child.stderr!), status };
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A Node stream as a byte stream: the stderr pump reads into one reused buffer
 * (a BYOB reader), which `Readable.toWeb` does not offer.
 */
function byteStream(
  stream: NodeJS.ReadableStream & { destroy(): void },
): ReadableStream<Uint8Array> {
  return new ReadableStream({
    type: "bytes",
    start(controller) {
      stream.on("data", (chunk: Uint8Array) => {
        controller.enqueue(new Uint8Array(chunk));
        if ((controller.desiredSize ?? 0) <= 0) stream.pause();
      });
      stream.once("end", () => {
        controller.close();
        // A read waiting with its own buffer is answered only by this (the Streams spec).
        controller.byobRequest?.respond(0);
      });
      stream.once("error", (error) => controller.error(error));
    },
    pull() {
      stream.resume();
    },
    cancel() {
      stream.destroy();
    },
  });
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
