/**
 * Seeding real rustc incremental state the way Bazel drives it: a seed
 * action copies the previous (read-only) output tree out, Bazel wipes the
 * outputs, and the compile action seeds its fresh incremental directory from
 * the seed. rustc must then really reuse the cache: reused `.o` files in the
 * new session are hard links of the previous session's (same inode).
 */

import assert from "node:assert/strict";
import { fingerprintTree, run, type RunResult, runWrapper, RUSTC, tempDir } from "./helpers.ts";
import { canRunUnprivileged, prepareUnprivileged } from "./unprivileged.ts";
import { editOneFunction, writeCrate } from "../fixtures/gen_crate.ts";
import { sessionReuse } from "../fixtures/rustc_reuse.ts";
import { compileActionArgs, seedActionArgs } from "../fixtures/pr3925_args.ts";

type Wrapper = (args: readonly string[], cwd: string) => Promise<RunResult>;

const SHAPE = { modules: 6, functionsPerModule: 40 };

function rustcArgs(rustc: string): string[] {
  return [
    rustc,
    "--crate-type=rlib",
    "--crate-name=gen",
    "src/lib.rs",
    "--emit=link",
    "-Cincremental=incr",
    "--out-dir=out",
    "--error-format=json",
    "--json=artifacts",
  ];
}

/** Bazel makes every action's output files read-only. */
async function makeOutputsReadOnly(work: string): Promise<void> {
  for (const tree of ["incr", "seed", "out"]) {
    await run("find", [`${work}/${tree}`, "-type", "f", "-exec", "chmod", "a-w", "{}", "+"]);
  }
}

/** One Bazel-shaped build: seed action, wipe of the action's outputs, compile action. */
async function bazelBuild(
  wrapper: Wrapper,
  rustc: string,
  work: string,
): Promise<{ seedReport: Record<string, unknown>; seedActionReport: Record<string, unknown> }> {
  await run("rm", ["-rf", `${work}/seed`]);
  const seed = await wrapper(
    [...seedActionArgs("incr", "seed", 0), "--seed-report", "seed-action.json"],
    work,
  );
  assert.deepEqual(seed.code, 0, seed.stderr);
  await makeOutputsReadOnly(work);
  // Bazel deletes the outputs; it never makes their (shared-inode) files writable again.
  await run("rm", ["-rf", `${work}/incr`, `${work}/out`, `${work}/unused.txt`]);
  const compile = await wrapper([
    ...compileActionArgs("seed", "incr", "unused.txt", 0),
    "--seed-report",
    "report.json",
    "--rustc-output-format",
    "rendered",
    "--",
    ...rustcArgs(rustc),
  ], work);
  assert.deepEqual(compile.code, 0, compile.stderr);
  assert.deepEqual(compile.stderr.includes("not writeable"), false, compile.stderr);
  assert.deepEqual(Deno.readTextFileSync(`${work}/unused.txt`), "seed\n");
  return {
    seedReport: JSON.parse(Deno.readTextFileSync(`${work}/report.json`)),
    seedActionReport: JSON.parse(Deno.readTextFileSync(`${work}/seed-action.json`)),
  };
}

async function provesReuse(
  wrapper: Wrapper,
  rustc: string,
  work: string,
  own: (p: string) => Promise<void>,
) {
  writeCrate(`${work}/src`, SHAPE);
  await own(work);
  const cold = await bazelBuild(wrapper, rustc, work);
  // The first seed action found no previous tree and left an empty seed, as Bazel's tree artifact is.
  assert.deepEqual([cold.seedReport.files, cold.seedReport.sessions], [0, 0]);
  await makeOutputsReadOnly(work);
  const beforeEdit = await runLinked(rustc, work);

  editOneFunction(`${work}/src`, 2);
  const previousTree = await fingerprintTree(`${work}/incr`);
  const seeded = await bazelBuild(wrapper, rustc, work);
  // The seed action runs no rustc: it links the read-only objects; the compile action copies them writable.
  assert.deepEqual(
    seeded.seedActionReport.mode,
    "hardlink",
    JSON.stringify(seeded.seedActionReport),
  );
  assert.deepEqual(seeded.seedReport.mode, "mixed", JSON.stringify(seeded.seedReport));
  assert.deepEqual(seeded.seedReport.sessions, 1);
  const seedTree = await fingerprintTree(`${work}/seed`);
  const seedFiles = Object.keys(seedTree).filter((path) => seedTree[path].startsWith("file"));
  for (const path of seedFiles) {
    // The seed's files are the previous tree's, byte for byte, and read-only as Bazel left them.
    if (!path.endsWith(".lock")) {
      assert.deepEqual(
        seedTree[path].split(" ").at(-1),
        previousTree[path].split(" ").at(-1),
        path,
      );
    }
    assert.deepEqual(Number.parseInt(seedTree[path].split(" ")[1], 8) & 0o222, 0, path);
  }

  await assertFreshWritableLocks(wrapper, work);

  const reuse = sessionReuse(`${work}/incr`);
  assert.ok(reuse.objects >= 4, `too few objects to judge: ${JSON.stringify(reuse)}`);
  assert.ok(
    reuse.reused * 2 > reuse.objects,
    `rustc did not reuse the seed: ${JSON.stringify(reuse)}`,
  );
  const seededResult = await runLinked(rustc, work);
  assert.ok(seededResult !== beforeEdit, "the edit did not reach the seeded build");

  // The same edit built cold in the same place gives the same library.
  await run("rm", ["-rf", `${work}/incr`, `${work}/out`]);
  const coldAgain = await wrapper(["--", ...rustcArgs(rustc)], work);
  assert.deepEqual(coldAgain.code, 0, coldAgain.stderr);
  assert.deepEqual(sessionReuse(`${work}/incr`).reused, 0);
  assert.deepEqual(await runLinked(rustc, work), seededResult);
}

/**
 * What seeding gives each session: its own lock file, empty and writable by its owner, never a
 * link of the seed's read-only one. Checked on the files themselves, so that a run as root, which
 * ignores permission bits, still sees a lock rustc could not open as anyone else.
 */
async function assertFreshWritableLocks(wrapper: Wrapper, work: string): Promise<void> {
  const probe = await wrapper([
    "--copy-seed",
    "seed",
    "probe",
    "--seed-min-mb",
    "0",
    "--",
    "/bin/true",
  ], work);
  assert.equal(probe.code, 0, probe.stderr);
  // Crate directories, beside the file recording where the state was made.
  const crates = [...Deno.readDirSync(`${work}/probe`)].filter((entry) => entry.isDirectory);
  const locks = crates.flatMap((crate) =>
    [...Deno.readDirSync(`${work}/probe/${crate.name}`)]
      .filter((entry) => entry.name.endsWith(".lock"))
      .map((entry) => `${crate.name}/${entry.name}`)
  );
  assert.ok(locks.length > 0, "the seed has a session");
  for (const lock of locks) {
    const fresh = Deno.statSync(`${work}/probe/${lock}`);
    const seeds = Deno.statSync(`${work}/seed/${lock}`);
    assert.equal(fresh.size, 0, lock);
    assert.equal(fresh.mode! & 0o600, 0o600, `${lock} is not readable and writable by its owner`);
    assert.equal(fresh.nlink, 1, `${lock} is a link`);
    assert.notEqual(fresh.ino, seeds.ino, `${lock} is the seed's own lock`);
  }
  await run("rm", ["-rf", `${work}/probe`]);
}

/** Links a program against `out/libgen.rlib` and returns what it prints. */
async function runLinked(rustc: string, work: string): Promise<string> {
  const program = `${work}/use_gen`;
  Deno.writeTextFileSync(`${program}.rs`, 'fn main() { println!("{}", gen::total(7)); }\n');
  const built = await run(rustc, [
    `${program}.rs`,
    "--edition=2021",
    "--extern",
    `gen=${work}/out/libgen.rlib`,
    "-o",
    program,
  ]);
  assert.deepEqual(built.code, 0, built.stderr);
  const ran = await run(program, []);
  assert.deepEqual(ran.code, 0, ran.stderr);
  await Deno.remove(program);
  return ran.stdout;
}

Deno.test({
  name: "as root: a seeded rebuild reuses rustc's cache from a read-only seed",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    await provesReuse((args, cwd) => runWrapper(args, { cwd }), RUSTC!, dir.path, async () => {});
  },
});

Deno.test({
  name: "as an unprivileged user: a seeded rebuild reuses rustc's cache from a read-only seed",
  ignore: !canRunUnprivileged,
  async fn() {
    await using dir = await tempDir();
    const nobody = await prepareUnprivileged(dir.path);
    Deno.mkdirSync(`${dir.path}/work`);
    await provesReuse(nobody.wrapper, nobody.rustc, `${dir.path}/work`, nobody.own);
  },
});

Deno.test({
  name:
    "as an unprivileged user: an unreadable subdirectory in the seed falls back to an empty DEST, the child runs",
  ignore: !canRunUnprivileged,
  async fn() {
    await using dir = await tempDir();
    const nobody = await prepareUnprivileged(dir.path);
    const work = `${dir.path}/work`;
    Deno.mkdirSync(`${work}/seed/a-readable`, { recursive: true });
    Deno.mkdirSync(`${work}/seed/z-locked`, { recursive: true });
    Deno.writeTextFileSync(`${work}/seed/a-readable/x`, "x");
    Deno.writeTextFileSync(`${work}/seed/z-locked/y`, "y");
    await nobody.own(work);
    Deno.chownSync(`${work}/seed/z-locked`, 0, 0);
    Deno.chmodSync(`${work}/seed/z-locked`, 0o700);
    const result = await nobody.wrapper([
      ...compileActionArgs("seed", "incr", "unused.txt", 0),
      "--seed-report",
      "report.json",
      "--",
      "/bin/sh",
      "-c",
      "echo ran > ran.txt",
    ], work);
    assert.deepEqual(result.code, 0, result.stderr);
    assert.ok(
      result.stderr.includes("seeding incr from seed failed") && result.stderr.includes("z-locked"),
      result.stderr,
    );
    assert.deepEqual(Deno.readTextFileSync(`${work}/ran.txt`), "ran\n");
    assert.deepEqual([...Deno.readDirSync(`${work}/incr`)], []);
    assert.deepEqual(JSON.parse(Deno.readTextFileSync(`${work}/report.json`)).mode, "failed");
  },
});
