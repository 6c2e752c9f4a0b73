/**
 * Debug lines on stderr, shown when `RULES_RUST_PROCESS_WRAPPER_DEBUG` is set
 * (to anything), as with the upstream wrapper.
 *
 * @module
 */

import { wrapperMessage } from "./errors.ts";

/** The variable that turns debug lines on. */
export const DEBUG_VARIABLE = "RULES_RUST_PROCESS_WRAPPER_DEBUG";

let enabled: boolean | undefined;

/**
 * Prints `message` on stderr when debugging is on.
 *
 * @example
 * ```ts
 * import { debug } from "./debug.ts";
 * debug("seed skipped: below threshold");
 * ```
 */
export function debug(message: string): void {
  enabled ??= Deno.env.get(DEBUG_VARIABLE) !== undefined;
  if (enabled) console.error(wrapperMessage(message));
}
