/**
 * What to do with one line of rustc's `--error-format=json` stderr. Pure.
 *
 * @module
 */

/** How rustc's JSON diagnostics are shown: the raw JSON line or its `rendered` text. */
export type RustcOutputFormat = "json" | "rendered";

/** The verdict on one stderr line. */
export type LineVerdict =
  /** Print `text` (already ending as rustc ends it). */
  | { readonly kind: "print"; readonly text: string }
  /** Drop the line (artifact notifications, future-incompat reports without `rendered`). */
  | { readonly kind: "skip" }
  /** Drop the line; it announces that the crate's metadata (`.rmeta`) is written. */
  | { readonly kind: "metadata" }
  /** Not JSON: forward it and everything after it as-is, and fail. */
  | { readonly kind: "invalid" };

const LLVM_FEATURE_WARNING = "is not a recognized feature for this target (ignoring feature)";

/**
 * Whether a line is one of LLVM's plain-text warnings that rustc lets through
 * among its JSON output.
 *
 * @example
 * ```ts
 * import { isLlvmWarning } from "./rustc_json.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(isLlvmWarning(" WARN rustc_errors::emitter Invalid span"), true);
 * ```
 */
export function isLlvmWarning(line: string): boolean {
  return line.includes(LLVM_FEATURE_WARNING) || line.startsWith(" WARN ");
}

/**
 * Wraps a plain-text line into a rustc warning diagnostic, as upstream does.
 *
 * @example
 * ```ts
 * import { llvmWarningAsJson } from "./rustc_json.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(JSON.parse(llvmWarningAsJson(" WARN x")).level, "warning");
 * ```
 */
export function llvmWarningAsJson(line: string): string {
  return JSON.stringify({
    $message_type: "diagnostic",
    message: line,
    code: null,
    level: "warning",
    spans: [],
    children: [],
    rendered: `${line}\n`,
  });
}

/**
 * Classifies one line (without its newline) of rustc's JSON stderr.
 * `terminated` is false for a last line the child ended without a newline:
 * what is printed for it then ends without one too.
 *
 * @example
 * ```ts
 * import { classifyRustcLine } from "./rustc_json.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(classifyRustcLine('{"rendered":"warning: x\\n"}', "rendered"), { kind: "print", text: "warning: x\n" });
 * assert.deepEqual(classifyRustcLine('{"$message_type":"artifact","emit":"metadata"}', "json"), { kind: "metadata" });
 * assert.deepEqual(classifyRustcLine('{"rendered":"w"}', "json", false), { kind: "print", text: '{"rendered":"w"}' });
 * ```
 */
export function classifyRustcLine(
  line: string,
  format: RustcOutputFormat,
  terminated = true,
): LineVerdict {
  const llvmWarning = isLlvmWarning(line);
  const json = llvmWarning ? llvmWarningAsJson(line) : line;
  let message: unknown;
  try {
    message = JSON.parse(json);
  } catch {
    return { kind: "invalid" };
  }
  if (typeof message !== "object" || message === null) return { kind: "skip" };
  const fields = message as Record<string, unknown>;
  // An artifact notification is one whatever else the line carries.
  if (fields.emit !== undefined) {
    return fields.emit === "metadata" ? { kind: "metadata" } : { kind: "skip" };
  }
  if (typeof fields.rendered !== "string") return { kind: "skip" };
  const newline = terminated ? "\n" : "";
  if (format === "json") return { kind: "print", text: json + newline };
  // The wrapped LLVM line is the wrapper's text, so it ends as the child's line ended.
  return { kind: "print", text: llvmWarning ? line + newline : fields.rendered };
}
