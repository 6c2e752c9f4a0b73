/**
 * `deno_process_wrapper_repositories()` without a local Deno, as a consuming
 * WORKSPACE calls it: the exec platform's Deno comes from the npm registry,
 * pinned by sha256, and runs in an action. Needs `../shared/third_party` and
 * the registry: without either, the test shows as ignored (one line names
 * what is missing).
 */

import assert from "node:assert/strict";
import { ensureBazel, REPO } from "../fixtures/bazel.ts";
import { run, tempDir } from "./helpers.ts";
import { isDirectory } from "../mod/seed/mod.ts";

const PLATFORMS = `${REPO}/../shared/third_party/platforms-0.0.5`;

async function registryReachable(): Promise<boolean> {
  try {
    const response = await fetch("https://registry.npmjs.org/@deno%2flinux-x64-glibc", {
      method: "HEAD",
      signal: AbortSignal.timeout(10_000),
    });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

// Decided before the test is declared, so that a missing one shows as ignored, not as passed.
const missing = !isDirectory(PLATFORMS)
  ? PLATFORMS
  : !(await registryReachable())
  ? "https://registry.npmjs.org"
  : undefined;
if (missing !== undefined) console.log(`ignored: needs ${missing}`);

Deno.test({
  name: "the pinned Deno of the exec platform is downloaded from npm and runs in an action",
  ignore: missing !== undefined,
  fn: async (t) => {
    await t.step("linux x86_64", async () => {
      await using dir = await tempDir("pw-deno-repo-");
      const ws = `${dir.path}/ws`;
      Deno.mkdirSync(ws);
      Deno.writeTextFileSync(
        `${ws}/WORKSPACE`,
        [
          `local_repository(name = "deno_process_wrapper", path = "${REPO}")`,
          `local_repository(name = "platforms", path = "${Deno.realPathSync(PLATFORMS)}")`,
          'load("@deno_process_wrapper//tools:repositories.bzl", "deno_process_wrapper_repositories")',
          "deno_process_wrapper_repositories()",
          "",
        ].join("\n"),
      );
      Deno.writeTextFileSync(
        `${ws}/BUILD.bazel`,
        [
          "genrule(",
          '    name = "version",',
          '    outs = ["version.txt"],',
          '    cmd = "$(execpath @deno_process_wrapper_deno//:deno) --version > $@",',
          '    tools = ["@deno_process_wrapper_deno//:deno"],',
          ")",
          "",
        ].join("\n"),
      );
      const bazel = [await ensureBazel(), `--output_user_root=${dir.path}/root`];
      try {
        const built = await run(bazel[0], [...bazel.slice(1), "build", "//:version"], { cwd: ws });
        assert.equal(built.code, 0, built.stderr);
        const version = Deno.readTextFileSync(`${ws}/bazel-bin/version.txt`);
        assert.match(version, /^deno 2\.9\.6 \(stable, release, x86_64-unknown-linux-gnu\)\n/);
      } finally {
        await run(bazel[0], [...bazel.slice(1), "shutdown"], { cwd: ws });
      }
    });
  },
});
