/**
 * `deno task compile`: every failure is one clear line, and what it builds is
 * checked to be the wrapper before it is kept.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { run, tempDir } from "./helpers.ts";

const COMPILE_TS = fileURLToPath(new URL("../scripts/compile.ts", import.meta.url));

async function compileWith(denortBin: string, output: string) {
  return await run(Deno.execPath(), ["run", "--quiet", "-A", COMPILE_TS, output], {
    env: { DENORT_BIN: denortBin },
  });
}

function onlyLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, stderr);
  return lines[0];
}

Deno.test("a DENORT_BIN that does not exist fails with one line naming DENORT_BIN", async () => {
  await using dir = await tempDir();
  const result = await compileWith("/nonexistent/denort", join(dir.path, "pw"));
  assert.notEqual(result.code, 0);
  assert.match(onlyLine(result.stderr), /DENORT_BIN=\/nonexistent\/denort/);
});

Deno.test("a DENORT_BIN that is not an executable fails with one line, no backtrace", async () => {
  await using dir = await tempDir();
  const notes = join(dir.path, "notes.txt");
  await Deno.writeTextFile(notes, "not a runtime\n");
  const result = await compileWith(notes, join(dir.path, "pw"));
  assert.notEqual(result.code, 0);
  const line = onlyLine(result.stderr);
  assert.match(line, /DENORT_BIN=.*notes\.txt: .*Not an ELF file; set DENORT_BIN to the denort/);
});

Deno.test("a full deno as DENORT_BIN builds plain Deno: the check fails it and removes it", async () => {
  await using dir = await tempDir();
  const output = join(dir.path, "pw");
  const result = await compileWith(Deno.execPath(), output);
  assert.equal(result.code, 1);
  const line = onlyLine(result.stderr);
  assert.match(line, /not the wrapper \(is DENORT_BIN=.* a full deno\?\)/);
  assert.match(line, /--version` should print "process_wrapper/);
  await assert.rejects(Deno.lstat(output), Deno.errors.NotFound);
});

Deno.test("a failed compile leaves none of the directories it made for the output, keeps the ones that were there, and gives the denort download address", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(join(dir.path, "kept.txt"), "mine");
  const result = await run(
    Deno.execPath(),
    ["run", "--quiet", "-A", COMPILE_TS, "dist/bin/process_wrapper"],
    { cwd: dir.path, env: { DENORT_BIN: "/nonexistent/denort" }, timeoutMs: 120_000 },
  );
  assert.notEqual(result.code, 0);
  assert.ok(
    onlyLine(result.stderr).includes(
      `(unzipped from https://dl.deno.land/release/v${Deno.version.deno}/denort-${Deno.build.target}.zip)`,
    ),
    result.stderr,
  );
  assert.deepEqual([...Deno.readDirSync(dir.path)].map(({ name }) => name), ["kept.txt"]);
});
