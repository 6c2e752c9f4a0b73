/**
 * The real {@linkcode PlanHost}: this process's working directory,
 * environment and file system.
 *
 * @module
 */

import type { PlanHost } from "./plan.ts";

/**
 * A {@linkcode PlanHost} backed by Deno's APIs.
 *
 * @example
 * ```ts
 * import { systemHost } from "./host.ts";
 * systemHost().cwd === Deno.cwd(); // true
 * ```
 */
export function systemHost(): PlanHost {
  return {
    cwd: Deno.cwd(),
    env: Deno.env.toObject(),
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
