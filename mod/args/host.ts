/**
 * The real {@linkcode PlanHost}: this process's working directory,
 * environment and file system.
 *
 * @module
 */

import type { PlanHost } from "./plan.ts";

let startupEnv: Record<string, string> | undefined;

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
  // The wrapper never changes its own environment: read it once, not per worker request.
  startupEnv ??= Deno.env.toObject();
  return {
    cwd: Deno.cwd(),
    env: startupEnv,
    readTextFile: (path) => Deno.readTextFileSync(path),
    realPath: (path) => {
      try {
        return Deno.realPathSync(path);
      } catch {
        return undefined;
      }
    },
  };
}
