/**
 * `deno task compile`: builds `dist/process_wrapper`, one self-contained
 * executable, with `deno compile`. Offline, point `DENORT_BIN` at a local
 * `denort` runtime of the same Deno version; `deno compile` then uses it
 * instead of downloading one.
 *
 * @module
 */

/** The permissions the wrapper needs at run time, and no more. */
export const RUNTIME_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  // Seeding asks who will run rustc (Deno.uid).
  "--allow-sys=uid",
];

/** Modules loaded only as workers, which `deno compile` leaves out unless told. */
export const WORKER_MODULES = ["../mod/seed/thread_entry.ts"];

/** Where the executable is written. */
export const OUTPUT = "dist/process_wrapper";

/**
 * Runs `deno compile` and returns its exit code, explaining a missing runtime in one line.
 *
 * @example
 * ```ts
 * import { compile } from "./compile.ts";
 * Deno.exit(await compile());
 * ```
 */
export async function compile(): Promise<number> {
  const entry = new URL("../main.ts", import.meta.url).pathname;
  const includes = WORKER_MODULES.flatMap((module) => [
    "--include",
    new URL(module, import.meta.url).pathname,
  ]);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["compile", ...RUNTIME_PERMISSIONS, ...includes, "--output", OUTPUT, entry],
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  if (output.code === 0) {
    console.error(`compiled ${OUTPUT}`);
    return 0;
  }
  if (/denort|dns error|download|failed to lookup|error sending request/i.test(stderr)) {
    const hint = Deno.env.get("DENORT_BIN")
      ? `DENORT_BIN=${
        Deno.env.get("DENORT_BIN")
      } was set; check it is a denort of Deno ${Deno.version.deno}`
      : `set DENORT_BIN to a local denort of Deno ${Deno.version.deno} (e.g. unzipped from denort-x86_64-unknown-linux-gnu.zip)`;
    console.error(`deno compile could not get the denort runtime (no network?): ${hint}`);
  } else {
    console.error(stderr.trimEnd());
  }
  return output.code;
}

if (import.meta.main) Deno.exit(await compile());
