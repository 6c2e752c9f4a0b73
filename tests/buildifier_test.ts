/**
 * The Bazel files are formatted and lint-clean by buildifier (the npm
 * package runs offline once fetched), so Starlark style holds as code does.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { run, which } from "./helpers.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

Deno.test({
  name: "buildifier: every BUILD, WORKSPACE and .bzl file is formatted and lint-clean",
  ignore: which("npx") === undefined,
  async fn() {
    const result = await run("npx", [
      "--yes",
      "@bazel/buildifier@8.2.1",
      "--lint=warn",
      "--mode=check",
      "-r",
      "BUILD.bazel",
      "WORKSPACE",
      "MODULE.bazel",
      "tools",
      "e2e",
    ], { cwd: REPO });
    assert.equal(result.code, 0, result.stdout + result.stderr);
  },
});
