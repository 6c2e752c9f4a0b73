/**
 * Runs the wrapper and rustc as the unprivileged user `nobody`: root ignores
 * permission bits and would hide exactly the failures a real user meets in
 * Bazel's read-only output tree. `/root` is not readable by others, so this
 * makes a readable copy of deno, the wrapper's sources and the toolchain
 * (hard links where possible, so it costs about a second).
 *
 * @module
 */

import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { run, type RunResult, RUSTC, which } from "./helpers.ts";

/** `nobody` on Debian. */
export const NOBODY = 65534;

/** Everything needed to run as `nobody`. */
export interface Unprivileged {
  /** Runs the wrapper as `nobody` in `cwd`. */
  wrapper(args: readonly string[], cwd: string): Promise<RunResult>;
  /** The readable rustc. */
  readonly rustc: string;
  /** Gives `nobody` a directory of its own. */
  own(path: string): Promise<void>;
}

/** Whether the tests can switch to `nobody` (root, with setpriv, rustc found). */
export const canRunUnprivileged = Deno.uid() === 0 && which("setpriv") !== undefined &&
  RUSTC !== undefined;

/**
 * Prepares `root` (a fresh temp dir) for running as `nobody`.
 *
 * @example
 * ```ts
 * const nobody = await prepareUnprivileged("/tmp/x");
 * await nobody.wrapper(["--", nobody.rustc, "--version"], "/tmp/x");
 * ```
 */
export async function prepareUnprivileged(root: string): Promise<Unprivileged> {
  const sysroot = (await run(RUSTC!, ["--print", "sysroot"])).stdout.trim();
  await linkOrCopy(sysroot, `${root}/toolchain`);
  const deno = `${root}/deno`;
  await linkOrCopy(Deno.execPath(), deno);
  const sources = dirname(dirname(fileURLToPath(import.meta.url)));
  Deno.mkdirSync(`${root}/wrapper`);
  Deno.copyFileSync(`${sources}/main.ts`, `${root}/wrapper/main.ts`);
  await run("cp", ["-r", `${sources}/mod`, `${root}/wrapper/mod`]);
  Deno.mkdirSync(`${root}/home`);
  Deno.chmodSync(root, 0o755);
  const own = async (path: string) => {
    const result = await run("chown", ["-R", `${NOBODY}:${NOBODY}`, path]);
    if (result.code !== 0) throw new Error(`chown ${path}: ${result.stderr}`);
  };
  await own(`${root}/home`);
  const env = {
    PATH: "/usr/bin:/bin",
    HOME: `${root}/home`,
    DENO_DIR: `${root}/home/deno`,
    DENO_NO_UPDATE_CHECK: "1",
  };
  return {
    rustc: `${root}/toolchain/bin/rustc`,
    own,
    wrapper: (args, cwd) =>
      run(
        "setpriv",
        [
          `--reuid=${NOBODY}`,
          `--regid=${NOBODY}`,
          "--clear-groups",
          "--",
          deno,
          "run",
          "--quiet",
          "-A",
          `${root}/wrapper/main.ts`,
          ...args,
        ],
        { cwd, env },
      ),
  };
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  if ((await run("cp", ["-al", from, to])).code === 0) return;
  await Deno.remove(to, { recursive: true }).catch(() => {});
  const copied = await run("cp", ["-a", from, to]);
  if (copied.code !== 0) throw new Error(`cp -a ${from} ${to}: ${copied.stderr}`);
}
