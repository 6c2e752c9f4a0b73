/**
 * The doc-example step of `deno task test`: runs every JSDoc example of
 * `main.ts`, `mod/` and `scripts/` (`deno test --doc`) with `TMPDIR` set to a
 * fresh directory, and fails, naming what is left there, when an example does
 * not clean up after itself (each run would otherwise leave files behind).
 *
 * @module
 */

/** What `deno test --doc` checks: every file with exported, documented code. */
export const DOC_EXAMPLE_ROOTS = ["main.ts", "mod/", "scripts/"];

/**
 * The entries left in `dir`, sorted, as the failure line names them.
 *
 * @example
 * ```ts
 * import { leftoverEntries } from "./doc_examples.ts";
 * import assert from "node:assert/strict";
 * const dir = Deno.makeTempDirSync();
 * Deno.writeTextFileSync(`${dir}/b`, "");
 * Deno.mkdirSync(`${dir}/a`);
 * assert.deepEqual(leftoverEntries(dir), ["a/", "b"]);
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export function leftoverEntries(dir: string): string[] {
  return [...Deno.readDirSync(dir)]
    .map((entry) => entry.isDirectory ? `${entry.name}/` : entry.name)
    .sort();
}

async function runDocExamples(): Promise<number> {
  const repository = new URL("..", import.meta.url).pathname;
  const tmp = await Deno.makeTempDir({ prefix: "pw-doc-examples-" });
  try {
    const { code } = await new Deno.Command(Deno.execPath(), {
      args: ["test", "--allow-all", "--doc", ...DOC_EXAMPLE_ROOTS],
      cwd: repository,
      env: { TMPDIR: tmp },
      stdout: "inherit",
      stderr: "inherit",
    }).spawn().status;
    if (code !== 0) return code;
    const left = leftoverEntries(tmp);
    if (left.length > 0) {
      console.error(
        `doc examples left ${left.length} temporary file(s) or directory(ies) behind ` +
          `(each example must remove what it makes): ${left.join(", ")}`,
      );
      return 1;
    }
    return 0;
  } finally {
    await new Deno.Command("chmod", { args: ["-R", "u+rwX", tmp], stderr: "null" }).output();
    await Deno.remove(tmp, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await runDocExamples());
