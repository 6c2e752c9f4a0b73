/**
 * Runs the child: spawns it with the planned argv and env, streams its
 * stderr through {@linkcode pumpStderr}, kills it once metadata is out when
 * asked to, forwards SIGTERM/SIGINT to it, and maps its end to an exit code.
 *
 * @module
 */

import { debug } from "../debug.ts";
import { describeError, WrapperError } from "../errors.ts";
import { startupEnvironment } from "../args/host.ts";
import type { ChildPlan } from "../args/plan.ts";
import { type ByteSink, type RunIO, writeAll } from "./run_io.ts";
import { pumpStderr } from "./stderr_pump.ts";

/** How the child ended. */
export interface ChildOutcome {
  /** The exit code the wrapper should exit with. */
  readonly code: number;
  /** The wrapper killed the child after metadata was emitted. */
  readonly stoppedAtMetadata: boolean;
}

const FORWARDED_SIGNALS = ["SIGTERM", "SIGINT"] as const;
const SIGNAL_NUMBERS: Record<(typeof FORWARDED_SIGNALS)[number], number> = {
  SIGTERM: 15,
  SIGINT: 2,
};

/**
 * Spawns the planned child and waits for it.
 *
 * @example
 * ```ts
 * import { runChild } from "./run_child.ts";
 * import { PROCESS_IO } from "./run_io.ts";
 * import assert from "node:assert/strict";
 * const output = { quitOnMetadata: false };
 * const plan = { executable: "/bin/sh", args: ["-c", "exit 3"], env: {}, paramFiles: [], output };
 * assert.equal((await runChild(plan, PROCESS_IO)).code, 3);
 * ```
 *
 * @throws {WrapperError} when an output file can't be opened, the child can't
 * be started, or its stderr is not the JSON that `--rustc-output-format` expects.
 */
export async function runChild(plan: ChildPlan, io: RunIO): Promise<ChildOutcome> {
  const options = plan.output;
  const opened: Deno.FsFile[] = [];
  const open = (path: string | undefined, flag: string) => {
    if (path === undefined) return undefined;
    try {
      const file = Deno.openSync(path, { write: true, create: true, truncate: true });
      opened.push(file);
      return file;
    } catch (error) {
      throw new WrapperError(`${flag} ${path}: cannot open for writing (${describeError(error)})`);
    }
  };
  try {
    const stdoutFile = open(options.stdoutFile, "--stdout-file");
    const stderrFile = open(options.stderrFile, "--stderr-file");
    const outputFile = open(options.outputFile, "--output-file");

    debug(`child argv: ${JSON.stringify([plan.executable, ...plan.args])}`);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(plan.executable, {
        args: [...plan.args],
        ...childEnvironment(plan.env),
        stdin: io.stdin,
        stdout: stdoutFile || io.childStdout ? "piped" : "inherit",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      throw new WrapperError(
        `failed to spawn child process ${plan.executable}: ${describeError(error)}`,
      );
    }

    let receivedSignal: number | undefined;
    const signalChild = (signal: Deno.Signal) => {
      try {
        child.kill(signal);
      } catch {
        // The child is already gone; nothing left to stop.
      }
    };
    const kill = () => signalChild("SIGKILL");
    if (io.cancel?.aborted) kill();
    io.cancel?.addEventListener("abort", kill);
    const handlers = (io.forwardSignals ? FORWARDED_SIGNALS : []).map((signal) => {
      const handler = () => {
        receivedSignal ??= SIGNAL_NUMBERS[signal];
        signalChild(signal);
      };
      Deno.addSignalListener(signal, handler);
      return [signal, handler] as const;
    });

    try {
      const stdoutDone = stdoutFile
        ? child.stdout.pipeTo(stdoutFile.writable)
        : io.childStdout
        ? copyAll(child.stdout, io.childStdout)
        : undefined;
      if (stdoutFile) opened.splice(opened.indexOf(stdoutFile), 1); // pipeTo closes it.
      const outcome = await pumpStderr(child.stderr, {
        forward: (stderrFile ?? io.childStderr) as ByteSink,
        raw: outputFile,
        format: options.format,
        quitOnMetadata: options.quitOnMetadata,
      });
      if (outcome.stoppedAtMetadata) {
        debug("metadata emitted: killing the child");
        kill(); // rustc may have exited on its own meanwhile.
        await child.stderr.cancel().catch(() => {});
      }
      const status = await child.status;
      await stdoutDone;
      if (receivedSignal !== undefined) {
        return { code: 128 + receivedSignal, stoppedAtMetadata: false };
      }
      if (outcome.stoppedAtMetadata) return { code: 0, stoppedAtMetadata: true };
      const code = status.signal === null ? status.code : 1;
      if (outcome.invalidLine !== undefined) {
        const reason = `failed to process stderr: error parsing rustc output as json: ${
          JSON.stringify(outcome.invalidLine.slice(0, 200))
        }`;
        if (code === 0) throw new WrapperError(reason);
        debug(reason);
      }
      return { code, stoppedAtMetadata: false };
    } finally {
      io.cancel?.removeEventListener("abort", kill);
      for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    }
  } finally {
    for (const file of opened) file.close();
  }
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

async function copyAll(from: ReadableStream<Uint8Array>, to: ByteSink): Promise<void> {
  for await (const chunk of from) await writeAll(to, chunk);
}
