/** The main job (`deno task demo`) on a machine without rustc: one line, no stack trace. */

import assert from "node:assert/strict";
import { run, tempDir } from "./helpers.ts";

const DEMO = new URL("../demo/main_job.ts", import.meta.url).pathname;

Deno.test("without rustc on PATH or in ~/.cargo/bin, the demo prints one line saying rustc is needed, and leaves nothing behind", async () => {
  await using home = await tempDir();
  await using tmp = await tempDir();
  const result = await run(Deno.execPath(), ["run", "--quiet", "--allow-all", DEMO], {
    clearEnv: true,
    // /usr/bin and /bin hold no rustc on the machines this runs on; HOME has no .cargo.
    env: { PATH: "/usr/bin:/bin", HOME: home.path, TMPDIR: tmp.path },
    timeoutMs: 60_000,
  });
  assert.deepEqual(result, {
    code: 1,
    stdout: "",
    stderr:
      "the demo needs rustc: none on PATH or in ~/.cargo/bin (install Rust, e.g. from https://rustup.rs)\n",
  });
  assert.deepEqual([...Deno.readDirSync(tmp.path)], []);
});
