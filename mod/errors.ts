/** What every line the wrapper prints of its own begins with. */
export const MESSAGE_PREFIX = "process wrapper";

/**
 * One line of the wrapper's own: `process wrapper: <text>`.
 *
 * @example
 * ```ts
 * import { wrapperMessage } from "./errors.ts";
 * import assert from "node:assert/strict";
 * assert.equal(wrapperMessage("seed x is not a directory"), "process wrapper: seed x is not a directory");
 * ```
 */
export function wrapperMessage(text: string): string {
  return `${MESSAGE_PREFIX}: ${text}`;
}

/**
 * The line a {@linkcode WrapperError} ends a run with.
 *
 * @example
 * ```ts
 * import { WrapperError, wrapperErrorLine } from "./errors.ts";
 * import assert from "node:assert/strict";
 * assert.equal(wrapperErrorLine(new WrapperError("bad")), "process wrapper error: bad");
 * ```
 */
export function wrapperErrorLine(error: WrapperError): string {
  return `${MESSAGE_PREFIX} error: ${error.message}`;
}

/**
 * The one error type the wrapper reports to its user.
 *
 * Anything thrown as a {@linkcode WrapperError} is printed as a single line
 * (`process wrapper error: <message>`) and ends the run with a non-zero exit
 * code; anything else is a bug and keeps its stack trace.
 *
 * @example
 * ```ts
 * import { WrapperError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * const error = new WrapperError('flag "--subst" missing parameter(s)');
 * assert.equal(error.name, "WrapperError");
 * ```
 */
export class WrapperError extends Error {
  /** @param message what went wrong, naming the flag or file at fault */
  constructor(message: string) {
    super(message);
    this.name = "WrapperError";
  }
}

/**
 * A short, stable description of an unknown thrown value, for one-line
 * error messages (`Deno.errors.NotFound: No such file...` becomes
 * `NotFound: No such file...`).
 *
 * @example
 * ```ts
 * import { describeError } from "./errors.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(describeError(new Deno.errors.NotFound("gone")), "NotFound: gone");
 * ```
 */
export function describeError(error: unknown): string {
  if (error instanceof WrapperError) return error.message;
  if (error instanceof Error) {
    const message = error.message.replace(/\s+/g, " ").trim();
    return error.name && error.name !== "Error" ? `${error.name}: ${message}` : message;
  }
  return String(error);
}
