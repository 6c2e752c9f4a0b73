/**
 * Large seeds are counted and linked on several threads: every file still
 * arrives exactly once, a failure in any thread's share still removes
 * everything that was seeded, and a seed that vanishes mid-walk falls back.
 */

import assert from "node:assert/strict";
import { COUNT_CHUNK, FILES_PER_THREAD } from "../mod/seed/mod.ts";
import {
  MAIN_TS,
  MANY_FILES_PARENT,
  reaped,
  run,
  runWrapper,
  seedArgs,
  sortedPaths,
  tempDir,
  within,
  writeScript,
} from "./helpers.ts";

const CORES = navigator.hardwareConcurrency;
const MIB = 1024 * 1024;
/** Enough files for two threads, in directories of 500. */
const FILES = 3 * FILES_PER_THREAD;

function makeLargeTree(root: string, files = FILES): string[] {
  const paths: string[] = [];
  for (let i = 0; i < files; i++) {
    const directory = `d${Math.floor(i / 500)}`;
    if (i % 500 === 0) Deno.mkdirSync(`${root}/${directory}`, { recursive: true });
    const path = `${directory}/f${i}`;
    Deno.writeTextFileSync(`${root}/${path}`, String(i));
    paths.push(path);
  }
  return paths.sort();
}

Deno.test({
  name: "a large seed is linked by several threads, every file exactly once",
  ignore: CORES < 2,
  async fn() {
    await using dir = await tempDir("pw-many-", MANY_FILES_PARENT);
    const paths = makeLargeTree(`${dir.path}/seed`);
    // A helper that starts late (a loaded machine) finds every chunk taken, and rightly is not
    // waited for: several tries, each of which must seed every file exactly once.
    const threads: number[] = [];
    for (let attempt = 0; attempt < 5 && !threads.some((count) => count >= 2); attempt++) {
      if (attempt > 0) Deno.removeSync(`${dir.path}/dest`, { recursive: true });
      const result = await runWrapper(
        [...seedArgs("seed", "dest", "r.json"), "--exit-early", "true"],
        { cwd: dir.path },
      );
      assert.deepEqual(result.code, 0, result.stderr);
      const report = JSON.parse(Deno.readTextFileSync(`${dir.path}/r.json`));
      threads.push(report.threads);
      assert.deepEqual([report.mode, report.files, report.linked], ["hardlink", FILES, FILES]);
      const seeded = sortedPaths(`${dir.path}/dest`).filter((path) => path.includes("/"));
      assert.deepEqual(seeded, paths);
      for (const path of paths) {
        const stat = Deno.statSync(`${dir.path}/dest/${path}`);
        assert.deepEqual(stat.ino, Deno.statSync(`${dir.path}/seed/${path}`).ino, path);
        assert.deepEqual(stat.nlink, 2, path);
      }
    }
    assert.ok(threads.some((count) => count >= 2), `threads in each try: ${threads.join(", ")}`);
  },
});

Deno.test({
  name: "a large seed below the threshold counts every byte once, whichever thread counts it",
  ignore: CORES < 2,
  async fn() {
    await using dir = await tempDir("pw-many-", MANY_FILES_PARENT);
    const paths = makeLargeTree(`${dir.path}/seed`);
    const result = await runWrapper(
      [...seedArgs("seed", "dest", "r.json", 1), "--exit-early", "true"],
      { cwd: dir.path },
    );
    assert.deepEqual(result.code, 0, result.stderr);
    const report = JSON.parse(Deno.readTextFileSync(`${dir.path}/r.json`));
    // Each file holds its own number: the exact sum shows no file counted twice or missed.
    const bytes = paths.reduce(
      (sum, path) => sum + path.slice(path.lastIndexOf("/f") + 2).length,
      0,
    );
    assert.deepEqual([report.mode, report.bytes_counted], ["skipped-threshold", bytes]);
    assert.deepEqual(sortedPaths(`${dir.path}/dest`), []);
  },
});

Deno.test("counting stops with the chunk that reaches the threshold, not one chunk later", async () => {
  await using dir = await tempDir("pw-many-", MANY_FILES_PARENT);
  // Too few files for a helper thread: one thread counts, chunk after chunk, in listing order.
  const files = 1000;
  const fileBytes = 4096;
  Deno.mkdirSync(`${dir.path}/seed`);
  for (let i = 0; i < files; i++) {
    Deno.writeFileSync(`${dir.path}/seed/f${i}`, new Uint8Array(fileBytes));
  }
  const result = await runWrapper(
    [...seedArgs("seed", "dest", "r.json", 1), "--exit-early", "true"],
    { cwd: dir.path },
  );
  assert.deepEqual(result.code, 0, result.stderr);
  const report = JSON.parse(Deno.readTextFileSync(`${dir.path}/r.json`));
  assert.deepEqual([report.mode, report.files], ["hardlink", files]);
  // 1 MiB is 256 files; counting ends with the chunk holding the 256th.
  const chunksToThreshold = Math.ceil(MIB / fileBytes / COUNT_CHUNK);
  assert.ok(chunksToThreshold * COUNT_CHUNK < files, "the seed holds a chunk past the threshold");
  assert.equal(report.bytes_counted, chunksToThreshold * COUNT_CHUNK * fileBytes);
});

Deno.test("a failure in any thread's share removes the whole partial seed and runs cold", async () => {
  await using dir = await tempDir("pw-many-", MANY_FILES_PARENT);
  const paths = makeLargeTree(`${dir.path}/seed`);
  const child = writeScript(dir.path, "child.sh", "find dest -type f | sort > seen.txt");
  // In the way at the start, the middle and the end of the list: each thread's share is hit.
  for (const blocker of [paths[0], paths[paths.length >> 1], paths[paths.length - 1]]) {
    const dest = `dest-${blocker.replace("/", "-")}`;
    Deno.mkdirSync(`${dir.path}/${dest}/${blocker.split("/")[0]}`, { recursive: true });
    Deno.writeTextFileSync(`${dir.path}/${dest}/${blocker}`, "mine");
    const result = await runWrapper([...seedArgs("seed", dest, "r.json"), "--", child], {
      cwd: dir.path,
    });
    assert.deepEqual(result.code, 0, result.stderr);
    assert.ok(
      result.stderr.includes("starting cold") && result.stderr.includes(blocker),
      result.stderr,
    );
    assert.deepEqual(sortedPaths(`${dir.path}/${dest}`), [blocker.split("/")[0], blocker]);
    assert.deepEqual(Deno.readTextFileSync(`${dir.path}/${dest}/${blocker}`), "mine");
    const report = JSON.parse(Deno.readTextFileSync(`${dir.path}/r.json`));
    assert.deepEqual([report.mode, report.files], ["failed", 0]);
  }
});

Deno.test("a seed directory deleted while its files are being linked: a clean cold start, never a crash", async () => {
  await using dir = await tempDir("pw-many-", MANY_FILES_PARENT);
  const paths = makeLargeTree(`${dir.path}/seed`, 20 * FILES_PER_THREAD);
  // Threads link from both ends of the list, so the middle directory is linked last.
  const middle = paths[paths.length >> 1].split("/")[0];
  const child = writeScript(dir.path, "child.sh", "exit 7");
  // Deleted as soon as the first file has been linked into DEST: after the walk listed it.
  const remover = new Deno.Command("sh", {
    args: [
      "-c",
      `until [ -n "$(find dest -type f -print -quit 2>/dev/null)" ]; do :; done; rm -rf seed/${middle}`,
    ],
    cwd: dir.path,
  }).spawn();
  await using _reaped = reaped(remover);
  const result = await runWrapper([...seedArgs("seed", "dest", "r.json"), "--", child], {
    cwd: dir.path,
  });
  assert.equal((await within(remover.status, 10_000, "the remover's end")).code, 0);
  assert.equal(result.code, 7, result.stderr);
  assert.doesNotMatch(result.stderr, /at .*\.ts:\d+/, "no stack trace");
  assert.match(result.stderr, new RegExp(`seeding dest from seed failed.*${middle}`));
  assert.equal(result.stderr.trimEnd().split("\n").length, 1, result.stderr);
  const report = JSON.parse(Deno.readTextFileSync(`${dir.path}/r.json`));
  assert.deepEqual([report.mode, report.files], ["failed", 0]);
  assert.deepEqual(sortedPaths(`${dir.path}/dest`), [], "everything seeded was removed");
  assert.equal(
    sortedPaths(`${dir.path}/seed`).filter((path) => path.includes("/")).length,
    paths.length - 500,
  );
});

Deno.test("at a low open-file limit, seeding uses fewer threads instead of panicking", async () => {
  await using dir = await tempDir("pw-many-", MANY_FILES_PARENT);
  makeLargeTree(`${dir.path}/seed`);
  // Deno needs about 20 descriptors to start; a helper thread needs 6 more, or Deno panics.
  const result = await run("/bin/sh", [
    "-c",
    `ulimit -n 22 && exec "$DENO" run --quiet -A "$MAIN" --copy-seed seed dest --seed-min-mb 0 ` +
    "--seed-report r.json --exit-early true",
  ], { cwd: dir.path, env: { DENO: Deno.execPath(), MAIN: MAIN_TS } });
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /panicked/);
  const report = JSON.parse(Deno.readTextFileSync(`${dir.path}/r.json`));
  assert.deepEqual([report.mode, report.files, report.threads], ["hardlink", FILES, 1]);
});
