/**
 * The line rules shared by env, arg, param and workspace-status files, and
 * the parsers built on them. Pure: callers pass the file's text in.
 *
 * Rules: lines end at `\n` or `\r\n` (Rust's `lines()`: a lone `\r` is
 * text, also at the end of the file); empty lines are skipped; a line ending in an odd number of
 * backslashes continues on the next line (joined with a newline); each pair
 * of trailing backslashes becomes one backslash.
 *
 * @module
 */

import { WrapperError } from "../errors.ts";

/**
 * Splits a file's text into logical lines.
 *
 * @example
 * ```ts
 * import { splitLogicalLines } from "./lines.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(splitLogicalLines("a\\\nb\n\nc\\\\\n"), ["a\nb", "c\\"]);
 * assert.deepEqual(splitLogicalLines("x\r\ny\r"), ["x", "y\r"]);
 * ```
 */
export function splitLogicalLines(text: string): string[] {
  const lines: string[] = [];
  let pending = "";
  // A final newline ends the last line; it does not start an empty one.
  const physical = text.split("\n");
  if (physical.at(-1) === "") physical.pop();
  const endsInNewline = text.endsWith("\n");
  for (const [index, raw] of physical.entries()) {
    // As Rust's lines(): "\r\n" ends a line too, but a lone "\r" at the very end is text.
    const terminated = endsInNewline || index < physical.length - 1;
    const line = terminated && raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.length === 0) continue;
    let end = line.length;
    while (end > 0 && line.charCodeAt(end - 1) === 0x5c) end--;
    const trailing = line.length - end;
    pending += line.slice(0, end) + "\\".repeat(trailing >> 1);
    if (trailing % 2 === 1) {
      pending += "\n";
    } else {
      lines.push(pending);
      pending = "";
    }
  }
  // Upstream silently drops a continuation left open at the end of the file;
  // keep what was written instead of losing an argument.
  // (A lone backslash at the end keeps nothing: no empty argument appears.)
  const kept = pending.slice(0, -1);
  if (kept !== "") lines.push(kept);
  return lines;
}

/**
 * Parses an `--env-file`: each logical line is `KEY=VALUE` (split at the
 * first `=`).
 *
 * @example
 * ```ts
 * import { parseEnvFile } from "./lines.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseEnvFile("A=1\nB=x=y\n", "env.txt"), [["A", "1"], ["B", "x=y"]]);
 * ```
 *
 * @throws {WrapperError} naming the file and the line without `=`.
 */
export function parseEnvFile(text: string, path: string): [string, string][] {
  return splitLogicalLines(text).map((line) => {
    const separator = line.indexOf("=");
    if (separator < 0) {
      throw new WrapperError(`environment file ${path}: line '${line}' is not KEY=VALUE`);
    }
    return [line.slice(0, separator), line.slice(separator + 1)];
  });
}

/**
 * Parses a Bazel workspace-status file: each logical line is `KEY value`
 * (split at the first space).
 *
 * @example
 * ```ts
 * import { parseStatusFile } from "./lines.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseStatusFile("BUILD_USER alice\n", "stable-status.txt"), [["BUILD_USER", "alice"]]);
 * ```
 *
 * @throws {WrapperError} naming the file and the line without a space.
 */
export function parseStatusFile(text: string, path: string): [string, string][] {
  return splitLogicalLines(text).map((line) => {
    const separator = line.indexOf(" ");
    if (separator < 0) {
      throw new WrapperError(`wrong workspace status file format for "${line}" in ${path}`);
    }
    return [line.slice(0, separator), line.slice(separator + 1)];
  });
}
