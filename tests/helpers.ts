/**
 * Shared test helpers: temporary directories, running the wrapper as a real
 * subprocess (`deno run -A main.ts`), small child programs, and rustc.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { WrapperError } from "../mod/errors.ts";

/** The wrapper's entry point, as the CLI tests run it. */
export const MAIN_TS = fileURLToPath(new URL("../main.ts", import.meta.url));

/** What a finished wrapper run produced. */
export interface RunResult {
  /** Exit code. */
  readonly code: number;
  /** Everything on stdout, decoded. */
  readonly stdout: string;
  /** Everything on stderr, decoded. */
  readonly stderr: string;
}

/** Options for {@linkcode runWrapper}. */
export interface RunOptions {
  /** Working directory of the wrapper. */
  readonly cwd?: string;
  /** Extra environment variables (on top of this process's). */
  readonly env?: Record<string, string>;
  /** Start from an empty environment (plus `env`) instead of this process's. */
  readonly clearEnv?: boolean;
  /** How long the run may take before it is killed and the test fails (default 120 s). */
  readonly timeoutMs?: number;
}

/**
 * Runs `deno run -A main.ts ...args` and collects its output.
 *
 * @example
 * ```ts
 * const { code } = await runWrapper(["--", "/bin/true"]);
 * ```
 */
export async function runWrapper(
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  return await collect(
    wrapperCommand(args, options),
    options.timeoutMs ?? 120_000,
    `the wrapper run ${JSON.stringify(args.slice(0, 8))}`,
  );
}

/** Runs `command` to its end, or SIGKILLs it and fails naming `what` after `ms`. */
async function collect(command: Deno.Command, ms: number, what: string): Promise<RunResult> {
  const child = command.spawn();
  let output: Deno.CommandOutput;
  try {
    output = await within(child.output(), ms, what);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/**
 * The `Deno.Command` that runs the wrapper, for tests that drive the process themselves.
 *
 * @example
 * ```ts
 * const child = wrapperCommand(["--", "/bin/sleep", "5"]).spawn();
 * ```
 */
export function wrapperCommand(
  args: readonly string[],
  options: RunOptions & { stdin?: "null" | "piped" } = {},
): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-A", MAIN_TS, ...args],
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv,
    stdin: options.stdin ?? "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * The real wrapper as a persistent worker in `cwd`, requests on its stdin.
 *
 * @example
 * ```ts
 * const worker = startWorker("/tmp/x", { stdout: "piped", stderr: "null" });
 * ```
 */
export function startWorker(
  cwd: string,
  output: { stdout: "piped" | "null"; stderr: "piped" | "null" },
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-A", MAIN_TS, "--persistent_worker"],
    cwd,
    stdin: "piped",
    ...output,
  }).spawn();
}

/**
 * Where trees of thousands of files are made: creating a file on this
 * machine's root file system costs ~0.7 ms, on tmpfs ~10 µs.
 */
export const MANY_FILES_PARENT = (() => {
  try {
    return Deno.statSync("/dev/shm").isDirectory ? "/dev/shm" : undefined;
  } catch {
    return undefined;
  }
})();

/**
 * A fresh temporary directory, removed by the returned disposer.
 *
 * @example
 * ```ts
 * await using dir = await tempDir();
 * Deno.writeTextFileSync(`${dir.path}/a.txt`, "a");
 * ```
 */
export async function tempDir(
  prefix = "pw-test-",
  parent?: string,
): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix, dir: parent });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await makeRemovable(path);
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** Tests make read-only trees on purpose; give the owner write access back before removing them. */
async function makeRemovable(path: string): Promise<void> {
  await new Deno.Command("chmod", { args: ["-R", "u+rwX", path], stderr: "null" }).output();
}

/**
 * Writes an executable `/bin/sh` script and returns its path.
 *
 * @example
 * ```ts
 * const child = writeScript("/tmp/x", "args.sh", 'printf "%s\\n" "$@"');
 * ```
 */
export function writeScript(dir: string, name: string, body: string): string {
  const path = `${dir}/${name}`;
  Deno.writeTextFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

/**
 * Finds an executable on `PATH` (or in `extra` directories), or `undefined`.
 *
 * @example
 * ```ts
 * const sh = which("sh");
 * ```
 */
export function which(name: string, extra: readonly string[] = []): string | undefined {
  for (const dir of [...(Deno.env.get("PATH") ?? "").split(":"), ...extra]) {
    if (dir === "") continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return `${dir}/${name}`;
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/** rustc, found on PATH or in rustup's default place. */
export const RUSTC = which("rustc", [
  `${Deno.env.get("HOME") ?? "/root"}/.cargo/bin`,
  "/root/.cargo/bin",
]);

/**
 * Runs a command to completion and returns its result (stdout/stderr
 * decoded); killed, and the test failed naming it, after `timeoutMs`
 * (default 600 s).
 *
 * @example
 * ```ts
 * const { code } = await run("true", []);
 * ```
 */
export async function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string>; clearEnv?: boolean; timeoutMs?: number } =
    {},
): Promise<RunResult> {
  return await collect(
    new Deno.Command(command, {
      args: [...args],
      cwd: options.cwd,
      env: options.env,
      clearEnv: options.clearEnv,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }),
    options.timeoutMs ?? 600_000,
    `${command} ${JSON.stringify(args.slice(0, 8))}`,
  );
}

/**
 * Lists every path under `root` (relative, sorted).
 *
 * @example
 * ```ts
 * sortedPaths("/tmp/x"); // ["a", "a/b.txt"]
 * ```
 */
export function sortedPaths(root: string): string[] {
  const out: string[] = [];
  const visit = (relative: string) => {
    for (const entry of Deno.readDirSync(relative === "" ? root : `${root}/${relative}`)) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      out.push(path);
      if (entry.isDirectory) visit(path);
    }
  };
  visit("");
  return out.sort();
}

/**
 * A fingerprint of a tree: each path with its type, mode, mtime and content
 * hash, to prove a tree was not modified.
 *
 * @example
 * ```ts
 * const before = await fingerprintTree("/tmp/seed");
 * ```
 */
export async function fingerprintTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const path of sortedPaths(root)) {
    const info = Deno.lstatSync(`${root}/${path}`);
    const kind = info.isFile ? "file" : info.isDirectory ? "dir" : "link";
    let digest = "";
    if (info.isFile) {
      const bytes = await Deno.readFile(`${root}/${path}`);
      digest = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)))
        .map((b) => b.toString(16).padStart(2, "0")).join("");
    }
    const mtime = info.isDirectory ? "" : String(info.mtime?.getTime());
    out[path] = `${kind} ${(info.mode ?? 0).toString(8)} ${mtime} ${digest}`;
  }
  return out;
}

/**
 * Asserts that `fn` throws a {@linkcode WrapperError} whose message includes `expected`.
 *
 * @example
 * ```ts
 * assertWrapperError(() => parseCommandLine(["--x"]), 'unknown flag "--x"');
 * ```
 */
export function assertWrapperError(fn: () => unknown, expected: string): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof WrapperError)) throw error;
    if (!error.message.includes(expected)) {
      throw new Error(
        `expected a message including ${JSON.stringify(expected)}, got ${
          JSON.stringify(error.message)
        }`,
      );
    }
    return;
  }
  throw new Error(
    `expected a WrapperError including ${JSON.stringify(expected)}, nothing was thrown`,
  );
}

/**
 * A `--copy-seed` command line with a threshold (0 unless given) and a report, for seeding tests.
 *
 * @example
 * ```ts
 * await runWrapper([...seedArgs("seed", "dest", "r.json"), "--exit-early", "true"]);
 * ```
 */
export function seedArgs(seed: string, dest: string, report: string, minMb = 0): string[] {
  return ["--copy-seed", seed, dest, "--seed-min-mb", String(minMb), "--seed-report", report];
}

/**
 * Whether anything (a dangling symlink included) exists at `path`.
 *
 * @example
 * ```ts
 * existsAt("/tmp"); // true
 * ```
 */
export function existsAt(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether process `pid` is running (a zombie counts as gone).
 *
 * @example
 * ```ts
 * isAlive(Deno.pid); // true
 * ```
 */
export function isAlive(pid: number): boolean {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/stat`).split(" ")[2] !== "Z";
  } catch {
    return false;
  }
}

/**
 * `promise`, or a rejection naming `what` once `ms` have passed: a test that
 * would hang fails by its name instead.
 *
 * @example
 * ```ts
 * const status = await within(child.status, 10_000, "the wrapper's exit");
 * ```
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Disposes a spawned process: SIGKILLs it if it still runs (a test that
 * failed on a bound leaves nothing behind) and waits for it.
 *
 * @example
 * ```ts
 * const child = wrapperCommand(["--", "/bin/sleep", "5"]).spawn();
 * await using _reaped = reaped(child);
 * ```
 */
export function reaped(child: Deno.ChildProcess): AsyncDisposable {
  return {
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
    },
  };
}

/**
 * The pid a child writes (`echo $$ > path`) once the line is complete; an
 * error naming `path` when it is not there within `ms`.
 *
 * @example
 * ```ts
 * const pid = await readPidFile(`${dir}/child.pid`);
 * ```
 */
export async function readPidFile(path: string, ms = 30_000): Promise<number> {
  for (let waited = 0; waited < ms; waited += 10) {
    const text = existsAt(path) ? Deno.readTextFileSync(path) : "";
    if (text.endsWith("\n")) return Number(text);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`${path} was not written within ${ms} ms`);
}

/** The processes of {@linkcode threeLevelChild}, top down. */
export interface ThreeLevels {
  readonly child: number;
  readonly grandchild: number;
  readonly greatGrandchild: number;
}

/**
 * A child command three levels deep: a shell (the child) starts a shell in
 * the background (the grandchild), which starts `sleep 600` in the
 * background (the great-grandchild). All three hold the child's stdout and
 * stderr. Each writes its pid into `dir`; {@linkcode threeLevelPids} waits
 * for them.
 *
 * @example
 * ```ts
 * const wrapper = wrapperCommand(["--", ...threeLevelChild(dir)], { cwd: dir }).spawn();
 * const pids = await threeLevelPids(dir);
 * ```
 */
export function threeLevelChild(dir: string): string[] {
  const grandchild = writeScript(
    dir,
    "grandchild.sh",
    `sleep 600 & echo $! > "${dir}/great-grandchild.pid"; wait`,
  );
  const child = writeScript(
    dir,
    "child.sh",
    `echo $$ > "${dir}/child.pid"; /bin/sh "${grandchild}" & echo $! > "${dir}/grandchild.pid"; wait`,
  );
  return [child];
}

/**
 * The pids {@linkcode threeLevelChild} writes, once all three run (at most
 * 30 s, else an error naming the missing one). Dispose the answer to SIGKILL
 * whichever of them a failed test left alive.
 *
 * @example
 * ```ts
 * using pids = await threeLevelPids(dir);
 * ```
 */
export async function threeLevelPids(dir: string): Promise<ThreeLevels & Disposable> {
  const pids = {
    child: await readPidFile(`${dir}/child.pid`),
    grandchild: await readPidFile(`${dir}/grandchild.pid`),
    greatGrandchild: await readPidFile(`${dir}/great-grandchild.pid`),
  };
  return {
    ...pids,
    [Symbol.dispose]: () => {
      for (const pid of Object.values(pids)) {
        try {
          if (isAlive(pid)) Deno.kill(pid, "SIGKILL");
        } catch {
          // Gone meanwhile.
        }
      }
    },
  };
}

/**
 * SIGTERMs `wrapper` (a one-shot run of {@linkcode threeLevelChild} in `dir`,
 * stdout and stderr piped) once all three levels run; its exit code, and the
 * levels still alive 5 s after its exit (any left are SIGKILLed).
 *
 * @example
 * ```ts
 * const wrapper = wrapperCommand(["--", ...threeLevelChild(dir)], { cwd: dir }).spawn();
 * assert.deepEqual(await sigtermThreeLevels(wrapper, dir), { code: 143, alive: [] });
 * ```
 */
export async function sigtermThreeLevels(
  wrapper: Deno.ChildProcess,
  dir: string,
): Promise<{ code: number; alive: string[] }> {
  await using _reaped = reaped(wrapper);
  using pids = await threeLevelPids(dir);
  wrapper.kill("SIGTERM");
  // A level left alive would hold stderr, and the wrapper, for 600 s.
  const status = await within(wrapper.status, 10_000, "the wrapper's exit after SIGTERM");
  await wrapper.stdout.cancel();
  await wrapper.stderr.cancel();
  return { code: status.code, alive: await stillAlive(pids, 5000) };
}

/**
 * Waits up to `ms` for every process of `pids` (by name) to end, then names those still alive.
 *
 * @example
 * ```ts
 * assert.deepEqual(await stillAlive({ rustc: 4242 }, 5000), []);
 * ```
 */
export async function stillAlive(
  pids: ThreeLevels | Readonly<Record<string, number>>,
  ms: number,
): Promise<string[]> {
  const alive = () =>
    Object.entries(pids).filter(([, pid]) => isAlive(pid)).map(([name, pid]) => `${name} ${pid}`);
  for (let waited = 0; alive().length > 0 && waited < ms; waited += 10) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return alive();
}
