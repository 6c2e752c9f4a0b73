/**
 * `${KEY}` substitution and `{KEY}` workspace-status stamping. Pure.
 *
 * @module
 */

import { WrapperError } from "../errors.ts";

/**
 * The longest text a `--subst` replacement may make. Values may name later
 * keys, as upstream allows, so chained values grow a text exponentially
 * (`k1=${k2}${k2}`, `k2=${k3}${k3}`, ...: 30 deep is gigabytes). No child can
 * get such a text: Linux refuses an argument or environment entry over
 * 128 KiB, and rustc's largest param files are a few MiB in all.
 */
export const MAX_SUBSTITUTED_LENGTH = 16 * 1024 * 1024;

/** One `--subst KEY=VALUE`, VALUE not yet resolved (`${pwd}` stays as written). */
export interface Substitution {
  /** The name between `${` and `}`. */
  readonly key: string;
  /** What `${key}` is replaced with. */
  readonly value: string;
}

/** Where Bazel keeps things, as seen from an action's working directory. */
export interface BazelDirectories {
  /** The action's working directory (`${pwd}`). */
  readonly pwd: string;
  /** Bazel's output base (`${output_base}`). */
  readonly outputBase: string;
  /** Bazel's exec root (`${exec_root}`). */
  readonly execRoot: string;
}

/**
 * Derives Bazel's directories from the working directory. The output base
 * is the parent of `external/` when the working directory has one (resolved
 * through its symlinks by the caller, hence `realExternal`), else two levels
 * up (`<output_base>/execroot/<workspace>`).
 *
 * @example
 * ```ts
 * import { bazelDirectories } from "./subst.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(bazelDirectories("/ob/execroot/_main", undefined).execRoot, "/ob/execroot/_main");
 * ```
 */
export function bazelDirectories(cwd: string, realExternal: string | undefined): BazelDirectories {
  const outputBase = realExternal === undefined ? parent(parent(cwd)) : parent(realExternal);
  const workspace = cwd.slice(cwd.lastIndexOf("/") + 1);
  const execRoot = `${outputBase === "/" ? "" : outputBase}/execroot/${workspace}`;
  return { pwd: cwd, outputBase, execRoot };
}

/** The parent of an absolute path (`node:path` would cost ~7 ms of start-up on every action). */
function parent(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const slash = trimmed.lastIndexOf("/");
  return slash <= 0 ? "/" : trimmed.slice(0, slash);
}

/**
 * Resolves the special `--subst` values `${pwd}`, `${output_base}` and
 * `${exec_root}`; any other value is kept as written. Finding the output base
 * costs a `realpath` (and an error when there is no `external/`), so
 * `directories` is called only when a value asks for it.
 *
 * @example
 * ```ts
 * import { resolveSubstitutions } from "./subst.ts";
 * import assert from "node:assert/strict";
 * const dirs = () => ({ pwd: "/w", outputBase: "/ob", execRoot: "/ob/execroot/w" });
 * assert.deepEqual(resolveSubstitutions([{ key: "ob", value: "${output_base}" }], "/w", dirs), [{ key: "ob", value: "/ob" }]);
 * ```
 */
export function resolveSubstitutions(
  substitutions: readonly Substitution[],
  pwd: string,
  directories: () => BazelDirectories,
): Substitution[] {
  let resolved: BazelDirectories | undefined;
  return substitutions.map(({ key, value }) => {
    switch (value) {
      case "${pwd}":
        return { key, value: pwd };
      case "${output_base}":
        return { key, value: (resolved ??= directories()).outputBase };
      case "${exec_root}":
        return { key, value: (resolved ??= directories()).execRoot };
      default:
        return { key, value };
    }
  });
}

/**
 * Replaces every `${KEY}` in `text`, one pass per substitution in
 * command-line order, as upstream does (so a value may itself hold a later
 * `${KEY}`).
 *
 * @example
 * ```ts
 * import { substitute } from "./subst.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(substitute("${pwd}/src", [{ key: "pwd", value: "/w" }]), "/w/src");
 * const chained = Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `\${k${i + 1}}`.repeat(2) }));
 * assert.throws(() => substitute("${k0}", chained), /--subst k\d+: the text would grow past 16 MiB/);
 * ```
 *
 * @throws {WrapperError} naming the key whose replacement would make the text
 * longer than {@linkcode MAX_SUBSTITUTED_LENGTH}.
 */
export function substitute(text: string, substitutions: readonly Substitution[]): string {
  if (!text.includes("${")) return text;
  let result = text;
  for (const { key, value } of substitutions) {
    // Split and join, not replaceAll: `$&`, `$$` and friends in a value are text, not patterns.
    const pieces = result.split("${" + key + "}");
    if (pieces.length === 1) continue;
    const length = result.length + (pieces.length - 1) * (value.length - key.length - 3);
    if (length > MAX_SUBSTITUTED_LENGTH) {
      throw new WrapperError(
        `--subst ${key}: the text would grow past ${MAX_SUBSTITUTED_LENGTH / 1024 / 1024} MiB ` +
          "(values naming later keys multiply)",
      );
    }
    result = pieces.join(value);
  }
  return result;
}

/**
 * Replaces every `{KEY}` in `text` with workspace-status values, in order.
 *
 * @example
 * ```ts
 * import { stamp } from "./subst.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(stamp("v-{BUILD_SCM_REVISION}", [["BUILD_SCM_REVISION", "abc"]]), "v-abc");
 * ```
 */
export function stamp(text: string, status: readonly (readonly [string, string])[]): string {
  if (!text.includes("{")) return text;
  let result = text;
  for (const [key, value] of status) result = result.replaceAll("{" + key + "}", () => value);
  return result;
}
