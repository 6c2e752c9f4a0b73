/** `deno task compile`: a missing runtime is one clear line, not a stack trace. */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { run } from "./helpers.ts";

const COMPILE_TS = fileURLToPath(new URL("../scripts/compile.ts", import.meta.url));

Deno.test("compile with an unusable DENORT_BIN fails with one line naming DENORT_BIN", async () => {
  const result = await run(Deno.execPath(), ["run", "--quiet", "-A", COMPILE_TS], {
    env: { DENORT_BIN: "/nonexistent/denort" },
  });
  assert.ok(result.code !== 0);
  const lines = result.stderr.trimEnd().split("\n");
  assert.deepEqual(lines.length, 1, result.stderr);
  assert.ok(lines[0].includes("DENORT_BIN=/nonexistent/denort"), lines[0]);
});
