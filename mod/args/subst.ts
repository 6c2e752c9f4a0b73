/**
 * `${KEY}` substitution and `{KEY}` workspace-status stamping. Pure.
 *
 * @module
 */

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
 * Replaces every `${KEY}` in `text`, one substitution after the other in
 * command-line order (so a value may itself hold a later `${KEY}`).
 *
 * @example
 * ```ts
 * import { substitute } from "./subst.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(substitute("${pwd}/src", [{ key: "pwd", value: "/w" }]), "/w/src");
 * ```
 */
export function substitute(text: string, substitutions: readonly Substitution[]): string {
  if (!text.includes("${")) return text;
  let result = text;
  for (const { key, value } of substitutions) {
    // A function, not a string: `$&`, `$$` and friends in a value are text, not patterns.
    result = result.replaceAll("${" + key + "}", () => value);
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
