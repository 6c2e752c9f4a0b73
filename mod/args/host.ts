/**
 * The real {@linkcode PlanHost}: this process's working directory,
 * environment and file system.
 *
 * @module
 */

import type { PlanHost } from "./plan.ts";

/**
 * The largest env, arg, param, status or flag file the wrapper reads. rules_rust's biggest
 * (a link's param file) are a few MiB; the bound turns a FIFO or `/dev/zero` into an error.
 */
export const MAX_LINE_FILE_BYTES = 256 * 1024 * 1024;

/**
 * Reads a whole line file as strict UTF-8, at most {@linkcode MAX_LINE_FILE_BYTES}.
 * Throws an `Error` saying which rule the file broke (the caller names the file).
 *
 * Upstream reads these files as Rust `String`s, which refuse invalid UTF-8;
 * a silent U+FFFD would hand rustc an argument nobody wrote.
 *
 * @example
 * ```ts
 * import { readLineFile } from "./host.ts";
 * import assert from "node:assert/strict";
 * const path = Deno.makeTempFileSync();
 * Deno.writeFileSync(path, new Uint8Array([0x61, 0xff, 0x0a]));
 * assert.throws(() => readLineFile(path), /not valid UTF-8/);
 * assert.throws(() => readLineFile("/dev/zero"), /larger than 256 MiB/);
 * Deno.writeTextFileSync(path, "--cfg\nx\n");
 * assert.equal(readLineFile(path), "--cfg\nx\n");
 * Deno.removeSync(path);
 * ```
 */
export function readLineFile(path: string): string {
  using file = Deno.openSync(path);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const chunk = new Uint8Array(total === 0 ? 64 * 1024 : 1024 * 1024);
    const count = file.readSync(chunk);
    if (count === null) break;
    total += count;
    if (total > MAX_LINE_FILE_BYTES) {
      throw new Error(`larger than ${MAX_LINE_FILE_BYTES / 1024 / 1024} MiB`);
    }
    chunks.push(chunk.subarray(0, count));
  }
  const bytes = chunks.length === 1 ? chunks[0] : new Uint8Array(total);
  if (chunks.length !== 1) {
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
  }
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new Error("not valid UTF-8");
  }
}

let startupEnv: Record<string, string> | undefined;

/**
 * The wrapper's environment as it started, read once: the wrapper never
 * changes its own environment, so worker requests need not read it again.
 *
 * @example
 * ```ts
 * import { startupEnvironment } from "./host.ts";
 * import assert from "node:assert/strict";
 * assert.equal(startupEnvironment().PATH, Deno.env.get("PATH"));
 * ```
 */
export function startupEnvironment(): Readonly<Record<string, string>> {
  return startupEnv ??= Deno.env.toObject();
}

/**
 * The position (0-based) of the first of this process's arguments that is not
 * valid UTF-8, or `undefined` when all are. Deno hands such an argument over
 * with U+FFFD in place of the bytes, which would reach rustc as an argument
 * nobody wrote; only then is `/proc/self/cmdline` read to tell a real U+FFFD
 * from a replaced byte (elsewhere than Linux, nothing can be told).
 *
 * @example
 * ```ts
 * import { nonUtf8Argument } from "./host.ts";
 * import assert from "node:assert/strict";
 * assert.equal(nonUtf8Argument(["--", "rustc"]), undefined);
 * ```
 */
export function nonUtf8Argument(args: readonly string[]): number | undefined {
  if (!args.some((arg) => arg.includes("\uFFFD"))) return undefined;
  let cmdline: Uint8Array;
  try {
    cmdline = Deno.readFileSync("/proc/self/cmdline");
  } catch {
    return undefined;
  }
  const raw: Uint8Array[] = [];
  let start = 0;
  for (let end = cmdline.indexOf(0); end >= 0; end = cmdline.indexOf(0, start)) {
    raw.push(cmdline.subarray(start, end));
    start = end + 1;
  }
  // The script's arguments are the last ones (after deno's own and the script path).
  const own = raw.slice(raw.length - args.length);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const index = own.findIndex((bytes) => {
    try {
      decoder.decode(bytes);
      return false;
    } catch {
      return true;
    }
  });
  return index < 0 ? undefined : index;
}

/**
 * A {@linkcode PlanHost} backed by Deno's APIs.
 *
 * @example
 * ```ts
 * import { systemHost } from "./host.ts";
 * import assert from "node:assert/strict";
 * assert.equal(systemHost().cwd, Deno.cwd());
 * ```
 */
export function systemHost(): PlanHost {
  return {
    cwd: Deno.cwd(),
    env: startupEnvironment(),
    readTextFile: readLineFile,
    realPath: (path) => {
      try {
        return Deno.realPathSync(path);
      } catch {
        return undefined;
      }
    },
  };
}
