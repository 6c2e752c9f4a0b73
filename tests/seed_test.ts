/**
 * Seeding plain trees through the CLI: links, copies across devices, the
 * threshold, missing and broken seeds, and the seed left untouched.
 */

import assert from "node:assert/strict";
import { copyRegularFile, isDirectory } from "../mod/seed/mod.ts";
import {
  existsAt,
  fingerprintTree,
  run,
  runWrapper,
  seedArgs,
  sortedPaths,
  tempDir,
  writeScript,
} from "./helpers.ts";

const MIB = 1024 * 1024;

function makeTree(root: string): void {
  Deno.mkdirSync(`${root}/a/b`, { recursive: true });
  Deno.writeTextFileSync(`${root}/top.txt`, "top");
  Deno.writeTextFileSync(`${root}/a/b/deep.bin`, "deep");
  Deno.writeFileSync(`${root}/a/empty`, new Uint8Array());
  Deno.writeTextFileSync(`${root}/a/name with spaces 'q' ü`, "odd");
  Deno.symlinkSync("../top.txt", `${root}/a/link-to-top`);
  Deno.symlinkSync("loop", `${root}/a/loop`);
  Deno.symlinkSync("..", `${root}/a/b/up`);
}

const report = (path: string) => JSON.parse(Deno.readTextFileSync(path));

Deno.test("--copy-seed hardlinks every file, skips symlinks and leaves the seed untouched", async () => {
  await using dir = await tempDir();
  makeTree(`${dir.path}/seed`);
  Deno.chmodSync(`${dir.path}/seed/top.txt`, 0o444);
  const before = await fingerprintTree(`${dir.path}/seed`);
  const result = await runWrapper([...seedArgs("seed", "dest", "report.json"), "--", "/bin/true"], {
    cwd: dir.path,
  });
  assert.deepEqual(result.code, 0, result.stderr);
  assert.deepEqual(sortedPaths(`${dir.path}/dest`), [
    "a",
    "a/b",
    "a/b/deep.bin",
    "a/empty",
    "a/name with spaces 'q' ü",
    "top.txt",
  ]);
  for (const path of ["top.txt", "a/b/deep.bin", "a/empty"]) {
    assert.deepEqual(
      Deno.statSync(`${dir.path}/dest/${path}`).ino,
      Deno.statSync(`${dir.path}/seed/${path}`).ino,
      path,
    );
  }
  assert.deepEqual(await fingerprintTree(`${dir.path}/seed`), before);
  const seeded = report(`${dir.path}/report.json`);
  assert.deepEqual(
    [
      seeded.mode,
      seeded.files,
      seeded.linked,
      seeded.copied,
      seeded.bytes_copied,
      seeded.bytes_counted,
      seeded.directories,
      seeded.error,
    ],
    // With --seed-min-mb 0 nothing needs counting: no file is stat'ed.
    ["hardlink", 4, 4, 0, 0, 0, 2, null],
  );
  assert.deepEqual(seeded.threshold_bytes, 0);
  assert.ok(typeof seeded.milliseconds === "number");
});

Deno.test("the threshold: just below skips, exactly at and above seed", async () => {
  await using dir = await tempDir();
  for (
    const [name, size, mode] of [["below", MIB - 1, "skipped-threshold"], ["at", MIB, "hardlink"], [
      "above",
      MIB + 1,
      "hardlink",
    ]] as const
  ) {
    Deno.mkdirSync(`${dir.path}/${name}`);
    Deno.writeFileSync(`${dir.path}/${name}/blob`, new Uint8Array(size));
    const result = await runWrapper(
      [...seedArgs(name, `${name}.dest`, `${name}.json`, 1), "--exit-early", "true"],
      { cwd: dir.path, env: { RULES_RUST_PROCESS_WRAPPER_DEBUG: "1" } },
    );
    assert.deepEqual(result.code, 0, result.stderr);
    assert.deepEqual(report(`${dir.path}/${name}.json`).mode, mode, name);
    assert.deepEqual(
      sortedPaths(`${dir.path}/${name}.dest`),
      mode === "skipped-threshold" ? [] : ["blob"],
    );
    if (mode === "skipped-threshold") {
      assert.ok(result.stderr.includes("below 1048576: not seeding"), result.stderr);
    }
  }
});

Deno.test("the default threshold is 20 MiB", async () => {
  await using dir = await tempDir();
  makeTree(`${dir.path}/seed`);
  await runWrapper([
    "--copy-seed",
    "seed",
    "dest",
    "--seed-report",
    "r.json",
    "--exit-early",
    "true",
  ], { cwd: dir.path });
  const seeded = report(`${dir.path}/r.json`);
  assert.deepEqual([seeded.mode, seeded.threshold_bytes], ["skipped-threshold", 20 * MIB]);
});

Deno.test("a missing PREV starts cold silently; a missing --copy-seed says so; the child runs", async () => {
  await using dir = await tempDir();
  const child = writeScript(dir.path, "child.sh", "echo ran > ran.txt");
  const prev = await runWrapper([
    "--seed-prev-dir",
    "nowhere",
    "seed",
    "--seed-report",
    "p.json",
    "--",
    child,
  ], { cwd: dir.path });
  assert.deepEqual([prev.code, prev.stderr], [0, ""]);
  assert.deepEqual(report(`${dir.path}/p.json`).mode, "cold-missing");
  const copy = await runWrapper(["--copy-seed", "nowhere", "incr", "--", child], { cwd: dir.path });
  assert.deepEqual(copy.code, 0);
  assert.ok(copy.stderr.includes("seed nowhere is not a directory: starting cold"), copy.stderr);
  assert.deepEqual(Deno.readTextFileSync(`${dir.path}/ran.txt`), "ran\n");
});

Deno.test({
  name: "across devices files are copied, byte for byte",
  ignore: !isDirectory("/dev/shm"),
  async fn() {
    await using dir = await tempDir();
    await using seedDir = await tempDir("pw-seed-", "/dev/shm");
    makeTree(seedDir.path);
    const result = await runWrapper(
      [...seedArgs(seedDir.path, "dest", "r.json"), "--exit-early", "true"],
      { cwd: dir.path },
    );
    assert.deepEqual(result.code, 0, result.stderr);
    const seeded = report(`${dir.path}/r.json`);
    assert.deepEqual([seeded.mode, seeded.copied, seeded.linked, seeded.bytes_copied], [
      "copy",
      4,
      0,
      10,
    ]);
    assert.deepEqual(Deno.readTextFileSync(`${dir.path}/dest/a/b/deep.bin`), "deep");
    assert.deepEqual(Deno.readTextFileSync(`${dir.path}/dest/a/name with spaces 'q' ü`), "odd");
  },
});

Deno.test("a DEST file in the way: reported, not clobbered, partial seed removed, child runs cold", async () => {
  await using dir = await tempDir();
  makeTree(`${dir.path}/seed`);
  Deno.mkdirSync(`${dir.path}/dest/a/b`, { recursive: true });
  Deno.writeTextFileSync(`${dir.path}/dest/a/b/deep.bin`, "mine");
  const child = writeScript(dir.path, "child.sh", "ls -A dest > seen.txt");
  const result = await runWrapper(
    [...seedArgs("seed", "dest", "r.json"), "--", child],
    { cwd: dir.path },
  );
  assert.deepEqual(result.code, 0);
  const lines = result.stderr.trimEnd().split("\n");
  assert.deepEqual(lines.length, 1, result.stderr);
  assert.ok(
    lines[0].includes("seeding dest from seed failed") && lines[0].includes("deep.bin") &&
      lines[0].includes("starting cold"),
    lines[0],
  );
  assert.deepEqual(Deno.readTextFileSync(`${dir.path}/dest/a/b/deep.bin`), "mine");
  assert.deepEqual(sortedPaths(`${dir.path}/dest`), ["a", "a/b", "a/b/deep.bin"]);
  const seeded = report(`${dir.path}/r.json`);
  assert.deepEqual([seeded.mode, seeded.files], ["failed", 0]);
  assert.ok(seeded.error.includes("File exists"), seeded.error);
});

Deno.test("--exit-early true seeds and exits 0, with or without a child, running none", async () => {
  await using dir = await tempDir();
  makeTree(`${dir.path}/prev`);
  const child = writeScript(dir.path, "child.sh", "echo ran > ran.txt");
  for (const args of [[], ["--", child]]) {
    await Deno.remove(`${dir.path}/seed`, { recursive: true }).catch(() => {});
    const result = await runWrapper(
      ["--seed-prev-dir", "prev", "seed", "--seed-min-mb", "0", "--exit-early", "true", ...args],
      { cwd: dir.path },
    );
    assert.deepEqual([result.code, result.stderr], [0, ""]);
    assert.ok(sortedPaths(`${dir.path}/seed`).includes("a/b/deep.bin"));
  }
  assert.deepEqual(sortedPaths(dir.path).includes("ran.txt"), false);
});

Deno.test("--write-unused-inputs is written only after the child succeeds, as INPUT and a newline", async () => {
  await using dir = await tempDir();
  const fail = writeScript(dir.path, "fail.sh", "exit 4");
  assert.deepEqual(
    (await runWrapper(["--write-unused-inputs", "u.txt", "bazel-out/x.seed", "--", fail], {
      cwd: dir.path,
    })).code,
    4,
  );
  assert.deepEqual(sortedPaths(dir.path).includes("u.txt"), false);
  assert.deepEqual(
    (await runWrapper(["--write-unused-inputs", "u.txt", "bazel-out/x.seed", "--", "/bin/true"], {
      cwd: dir.path,
    })).code,
    0,
  );
  assert.deepEqual(Deno.readTextFileSync(`${dir.path}/u.txt`), "bazel-out/x.seed\n");
});

Deno.test("with both flags, --copy-seed runs first: --seed-prev-dir may read what it seeded", async () => {
  await using dir = await tempDir();
  Deno.mkdirSync(`${dir.path}/seed`);
  Deno.writeTextFileSync(`${dir.path}/seed/state.bin`, "state");
  const result = await runWrapper([
    ...seedArgs("seed", "middle", "report.json"),
    "--seed-prev-dir",
    "middle",
    "last",
    "--exit-early",
    "true",
  ], { cwd: dir.path });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(Deno.readTextFileSync(`${dir.path}/last/state.bin`), "state");
  const reports = JSON.parse(Deno.readTextFileSync(`${dir.path}/report.json`));
  assert.deepEqual(reports.map((report: { destination: string }) => report.destination), [
    "middle",
    "last",
  ]);
});

/**
 * The file system temporary directories are made on, as `stat -f` names it.
 * ext2, ext3 and ext4 ("ext2/ext3") allow 65000 links to a file; tmpfs,
 * btrfs and xfs far more than a test can make.
 */
const TEMP_FILE_SYSTEM = new TextDecoder().decode(
  new Deno.Command("stat", {
    args: ["-f", "-c", "%T", Deno.env.get("TMPDIR") ?? "/tmp"],
    stderr: "null",
  }).outputSync().stdout,
).trim();

Deno.test({
  name: "a file at the hard-link limit (EMLINK, which Deno reports without a code) is copied",
  ignore: TEMP_FILE_SYSTEM !== "ext2/ext3",
  async fn() {
    await using dir = await tempDir();
    Deno.mkdirSync(`${dir.path}/seed`);
    Deno.mkdirSync(`${dir.path}/links`);
    const full = `${dir.path}/seed/full`;
    Deno.writeTextFileSync(full, "at the limit");
    let atLimit = false;
    for (let i = 0; i < 70_000 && !atLimit; i++) {
      try {
        Deno.linkSync(full, `${dir.path}/links/${i}`);
      } catch (error) {
        assert.match(String(error), /Too many links/);
        atLimit = true;
      }
    }
    assert.ok(atLimit, `${TEMP_FILE_SYSTEM} at ${dir.path}: no hard-link limit below 70000`);
    Deno.writeTextFileSync(`${dir.path}/seed/other`, "other");
    const result = await runWrapper([...seedArgs("seed", "dest", "r.json"), "--", "/bin/true"], {
      cwd: dir.path,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, "");
    const report = JSON.parse(Deno.readTextFileSync(`${dir.path}/r.json`));
    assert.deepEqual([report.mode, report.linked, report.copied], ["mixed", 1, 1]);
    assert.equal(Deno.readTextFileSync(`${dir.path}/dest/full`), "at the limit");
  },
});

Deno.test("a copy refuses a symlink or a FIFO put where the listing saw a regular file", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/secret`, "outside the seed");
  Deno.symlinkSync(`${dir.path}/secret`, `${dir.path}/swapped-link`);
  assert.equal((await run("mkfifo", [`${dir.path}/swapped-fifo`])).code, 0);
  for (const name of ["swapped-link", "swapped-fifo"]) {
    const created: string[] = [];
    // A FIFO opened for reading would block forever: refused before any open.
    assert.throws(
      () => copyRegularFile(`${dir.path}/${name}`, `${dir.path}/${name}.copy`, created),
      /is not a regular file any more/,
    );
    assert.deepEqual(created, []);
    assert.equal(existsAt(`${dir.path}/${name}.copy`), false);
  }
});

Deno.test("a symlink already inside DEST is never followed: the seed fails cleanly, outside untouched", async () => {
  await using dir = await tempDir();
  Deno.mkdirSync(`${dir.path}/seed/d`, { recursive: true });
  Deno.writeTextFileSync(`${dir.path}/seed/d/f`, "f");
  Deno.mkdirSync(`${dir.path}/outside`);
  Deno.mkdirSync(`${dir.path}/dest`);
  Deno.symlinkSync(`${dir.path}/outside`, `${dir.path}/dest/d`);
  const result = await runWrapper([...seedArgs("seed", "dest", "r.json"), "--", "/bin/true"], {
    cwd: dir.path,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stderr,
    /^process wrapper: seeding dest from seed failed .*dest\/d exists and is not a directory.*starting cold\n$/,
  );
  assert.deepEqual([...Deno.readDirSync(`${dir.path}/outside`)], []);
  assert.equal(Deno.lstatSync(`${dir.path}/dest/d`).isSymlink, true, "DEST's own entry is kept");
});

Deno.test("a seed name that is not valid UTF-8 is refused (one line, cold start), never guessed at", async () => {
  await using dir = await tempDir();
  Deno.mkdirSync(`${dir.path}/seed`);
  Deno.writeTextFileSync(`${dir.path}/seed/plain`, "p");
  // Deno would read the name "a\xffb" as "a\uFFFDb": a file of that name could be another one.
  assert.equal(
    (await run("sh", ["-c", `printf x > "$(printf 'seed/a\\377b')"`], { cwd: dir.path })).code,
    0,
  );
  Deno.writeTextFileSync(`${dir.path}/seed/a\uFFFDb`, "a look-alike");
  const result = await runWrapper([...seedArgs("seed", "dest", "r.json"), "--", "/bin/true"], {
    cwd: dir.path,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.match(
    result.stderr,
    /^process wrapper: seeding dest from seed failed .*not valid UTF-8.*starting cold\n$/,
  );
  assert.deepEqual([...Deno.readDirSync(`${dir.path}/dest`)], []);
  assert.equal(JSON.parse(Deno.readTextFileSync(`${dir.path}/r.json`)).mode, "failed");
});
