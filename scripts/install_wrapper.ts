/**
 * `deno task install-wrapper [DIR]`: installs the `process_wrapper` command
 * for shell use, a symlink `DIR/process_wrapper` (default `~/.local/bin`) to
 * `scripts/process_wrapper`, the launcher that runs `main.ts` with a native
 * Deno (no Node process sees its arguments). A relative DIR is taken from the
 * directory the task was called in (`INIT_CWD`). It then runs the installed
 * command with `--version` and says whether DIR is on `PATH`.
 *
 * @module
 */

import { WrapperError } from "../mod/errors.ts";

/** The command's name, as rules_rust names its own wrapper. */
export const COMMAND = "process_wrapper";

/** The launcher the installed command points to. */
export const LAUNCHER = new URL("./process_wrapper", import.meta.url).pathname;

/**
 * Where the command goes: `DIR/process_wrapper`, DIR absolute (a relative one
 * taken from `base`), `~/.local/bin` when no DIR is given.
 *
 * @example
 * ```ts
 * import { installPath } from "./install_wrapper.ts";
 * import assert from "node:assert/strict";
 * assert.equal(installPath(undefined, "/home/u", "/w"), "/home/u/.local/bin/process_wrapper");
 * assert.equal(installPath("bin", "/home/u", "/w"), "/w/bin/process_wrapper");
 * assert.equal(installPath("/opt/bin/", "/home/u", "/w"), "/opt/bin/process_wrapper");
 * ```
 *
 * @throws {WrapperError} when no DIR is given and there is no home directory.
 */
export function installPath(
  dir: string | undefined,
  home: string | undefined,
  base: string,
): string {
  if (dir === undefined) {
    if (!home) throw new WrapperError("no DIR given and HOME is not set: say where to install");
    return `${home}/.local/bin/${COMMAND}`;
  }
  const absolute = dir.startsWith("/") ? dir : `${base}/${dir}`;
  return `${absolute.replace(/\/+$/, "")}/${COMMAND}`;
}

/**
 * Puts the symlink `path` -> {@linkcode LAUNCHER} in place. An earlier
 * symlink is replaced; any other file there is the user's and is left alone
 * (an error naming it).
 *
 * @example
 * ```ts
 * import { LAUNCHER, linkLauncher } from "./install_wrapper.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * linkLauncher(`${dir}/bin/process_wrapper`);
 * assert.equal(Deno.readLinkSync(`${dir}/bin/process_wrapper`), LAUNCHER);
 * Deno.writeTextFileSync(`${dir}/mine`, "#!/bin/sh\n");
 * assert.throws(() => linkLauncher(`${dir}/mine`), /not a symlink/);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 *
 * @throws {WrapperError} naming the path when it cannot be written.
 */
export function linkLauncher(path: string): void {
  let existing: Deno.FileInfo | undefined;
  try {
    existing = Deno.lstatSync(path);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined && !existing.isSymlink) {
    throw new WrapperError(`${path} exists and is not a symlink: left alone; remove it first`);
  }
  try {
    Deno.mkdirSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    const fresh = `${path}.${Deno.pid}.tmp`;
    Deno.symlinkSync(LAUNCHER, fresh);
    Deno.renameSync(fresh, path);
  } catch (error) {
    throw new WrapperError(
      `cannot install ${path}: ${error instanceof Error ? error.message : error}`,
    );
  }
}

async function install(dir: string | undefined): Promise<number> {
  let path: string;
  try {
    path = installPath(dir, Deno.env.get("HOME"), Deno.env.get("INIT_CWD") ?? Deno.cwd());
    linkLauncher(path);
  } catch (error) {
    if (!(error instanceof WrapperError)) throw error;
    console.error(`install-wrapper: ${error.message}`);
    return 1;
  }
  const check = await new Deno.Command(path, {
    args: ["--version"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const decoder = new TextDecoder();
  if (check.code !== 0) {
    console.error(
      `install-wrapper: installed ${path} -> ${LAUNCHER}, but it does not run yet ` +
        `(${decoder.decode(check.stderr).trim()}); set DENO=${Deno.execPath()} for it`,
    );
    return 1;
  }
  console.log(`installed ${path} -> ${LAUNCHER}: ${decoder.decode(check.stdout).trim()}`);
  const dirOfPath = path.slice(0, path.lastIndexOf("/"));
  if (!(Deno.env.get("PATH") ?? "").split(":").includes(dirOfPath)) {
    console.log(`${dirOfPath} is not on PATH: add it, or call ${path} by its path`);
  }
  return 0;
}

if (import.meta.main) Deno.exit(await install(Deno.args[0]));
