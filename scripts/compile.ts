/**
 * `deno task compile [OUTPUT]`: builds one self-contained executable (by
 * default `dist/process_wrapper`) with `deno compile`, then runs it to check
 * that it is the wrapper. Offline, point `DENORT_BIN` at a local `denort`
 * runtime of the same Deno version; `deno compile` then uses it instead of
 * downloading one.
 *
 * @module
 */

import { dirname, resolve } from "node:path";

/**
 * The permissions the wrapper runs with: all. It reads `/proc/<pid>/` to tell
 * its child's descendants and a process's identity (which signals, which
 * waits), and Deno 2 grants those reads only with `--allow-all`; running any
 * program (`--allow-run`), which a process wrapper must, grants as much anyway.
 */
export const RUNTIME_PERMISSIONS = ["--allow-all"];

/** Modules loaded only as workers, which `deno compile` leaves out unless told. */
export const WORKER_MODULES = ["../mod/seed/thread_entry.ts"];

/** Where the executable is written unless the task is given a path. */
export const DEFAULT_OUTPUT = "dist/process_wrapper";

/** Where `deno compile` downloads its runtime from, for this Deno and platform. */
export const DENORT_URL =
  `https://dl.deno.land/release/v${Deno.version.deno}/denort-${Deno.build.target}.zip`;

const DENORT_ADVICE =
  `set DENORT_BIN to the denort runtime of Deno ${Deno.version.deno} (unzipped from ${DENORT_URL}), not to a full deno`;

/**
 * The one line explaining why `deno compile` failed, from its stderr.
 *
 * `deno compile` reports a bad runtime as a chain of causes and a backtrace;
 * the last cause is the reason (for example "Not an ELF file").
 *
 * @example
 * ```ts
 * import { compileFailureLine } from "./compile.ts";
 * import assert from "node:assert/strict";
 * const stderr = "error: Writing deno compile executable\n\nCaused by:\n" +
 *   "    0: Writing binary bytes\n    1: Invalid object: Not an ELF file\n\nStack backtrace:\n   0: <unknown>\n";
 * assert.equal(
 *   compileFailureLine(stderr, "/tmp/notes.txt").split("\n").length,
 *   1,
 * );
 * assert.match(compileFailureLine(stderr, "/tmp/notes.txt"), /DENORT_BIN=\/tmp\/notes.txt.*Not an ELF file/);
 * assert.match(compileFailureLine("error sending request: dns error", undefined), /could not download/);
 * ```
 */
export function compileFailureLine(stderr: string, denortBin: string | undefined): string {
  const causes = [...stderr.matchAll(/^\s+\d+: (.+)$/gm)].map((match) => match[1].trim())
    .filter((cause) => cause !== "<unknown>" && !/^(std|core|deno)::/.test(cause));
  const firstError = stderr.match(/^error: (.+)$/m)?.[1].trim();
  const reason = causes.at(-1) ?? firstError ?? (stderr.trim().split("\n")[0] || "no message");
  if (denortBin !== undefined) {
    return `deno compile failed with DENORT_BIN=${denortBin}: ${reason}; ${DENORT_ADVICE}`;
  }
  if (/denort|dns error|download|failed to lookup|error sending request/i.test(stderr)) {
    return `deno compile could not download the denort runtime (no network?): ${DENORT_ADVICE}`;
  }
  return `deno compile failed: ${reason}`;
}

/**
 * Runs the built executable as a user would (`--version`, then `-- /bin/true`)
 * and returns why it is not the wrapper, or `undefined` when it is.
 *
 * A full `deno` given as `DENORT_BIN` builds without complaint, but the result
 * is Deno itself: its `--version` names Deno, and `-- /bin/true` is not a run.
 *
 * @example
 * ```ts
 * import { checkExecutable } from "./compile.ts";
 * import assert from "node:assert/strict";
 * assert.match(await checkExecutable("/bin/false") ?? "", /--version/);
 * ```
 */
export async function checkExecutable(path: string): Promise<string | undefined> {
  const version = await runBriefly(path, ["--version"]);
  if (version.code !== 0 || !/^process_wrapper \S+ \(deno \S+\)\n$/.test(version.stdout)) {
    const got = version.stdout.split("\n")[0] || version.error || `exit ${version.code}`;
    return `\`${path} --version\` should print "process_wrapper <version> (deno <version>)", got "${got}"`;
  }
  const trueRun = await runBriefly(path, ["--", "/bin/true"]);
  if (trueRun.code !== 0 || trueRun.stdout !== "") {
    return `\`${path} -- /bin/true\` should exit 0 silently, got exit ${trueRun.code}${
      trueRun.error ? ` (${trueRun.error})` : ""
    }`;
  }
  return undefined;
}

interface BriefRun {
  readonly code: number;
  readonly stdout: string;
  readonly error?: string;
}

async function runBriefly(path: string, args: string[]): Promise<BriefRun> {
  try {
    // stdin is closed so that a Deno REPL, should the build be plain Deno, ends at once.
    const output = await new Deno.Command(path, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    return { code: output.code, stdout: new TextDecoder().decode(output.stdout) };
  } catch (error) {
    return { code: -1, stdout: "", error: error instanceof Error ? error.message : String(error) };
  }
}

/**
 * Runs `deno compile` into `output`, checks the result, and returns the exit
 * code, every failure explained in one line on stderr. A result that is not
 * the wrapper is removed, so nobody ships it by mistake.
 *
 * @example
 * ```ts
 * import { compile } from "./compile.ts";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const output = `${dir}/process_wrapper`;
 * Deno.env.set("DENORT_BIN", "/nonexistent/denort");
 * assert.notEqual(await compile(output), 0);
 * await assert.rejects(Deno.lstat(output));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function compile(output: string = DEFAULT_OUTPUT): Promise<number> {
  const created = missingDirectories(dirname(resolve(output)));
  const code = await compileInto(output);
  // `deno compile` makes the output's directories first: a failure leaves none of them behind.
  if (code !== 0) removeEmptyDirectories(created);
  return code;
}

/**
 * `dir` and its ancestors that do not exist yet, deepest first.
 *
 * @example
 * ```ts
 * import { missingDirectories } from "./compile.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * assert.deepEqual(missingDirectories(`${dir}/dist/bin`), [`${dir}/dist/bin`, `${dir}/dist`]);
 * assert.deepEqual(missingDirectories(dir), []);
 * Deno.removeSync(dir);
 * ```
 */
export function missingDirectories(dir: string): string[] {
  const missing: string[] = [];
  for (let current = dir; current !== dirname(current); current = dirname(current)) {
    try {
      Deno.lstatSync(current);
      break;
    } catch {
      missing.push(current);
    }
  }
  return missing;
}

/** Removes each of `dirs` (deepest first) while it is empty; stops at the first that is not. */
function removeEmptyDirectories(dirs: readonly string[]): void {
  for (const dir of dirs) {
    try {
      Deno.removeSync(dir);
    } catch {
      return;
    }
  }
}

async function compileInto(output: string): Promise<number> {
  const entry = new URL("../main.ts", import.meta.url).pathname;
  const includes = WORKER_MODULES.flatMap((module) => [
    "--include",
    new URL(module, import.meta.url).pathname,
  ]);
  const built = await new Deno.Command(Deno.execPath(), {
    args: ["compile", ...RUNTIME_PERMISSIONS, ...includes, "--output", output, entry],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  if (built.code !== 0) {
    console.error(compileFailureLine(new TextDecoder().decode(built.stderr), denortBin()));
    return built.code;
  }
  const problem = await checkExecutable(output);
  if (problem !== undefined) {
    await Deno.remove(output).catch(() => {});
    const cause = denortBin() === undefined ? "" : ` (is DENORT_BIN=${denortBin()} a full deno?)`;
    console.error(
      `deno compile built something that is not the wrapper${cause}: ${problem}; it was removed; ${DENORT_ADVICE}`,
    );
    return 1;
  }
  console.error(`compiled ${output} (checked: --version and -- /bin/true)`);
  return 0;
}

function denortBin(): string | undefined {
  return Deno.env.get("DENORT_BIN") || undefined;
}

if (import.meta.main) Deno.exit(await compile(Deno.args[0]));
