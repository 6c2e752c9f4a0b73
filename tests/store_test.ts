/**
 * `--incremental-store DIR`: rustc's incremental state kept in a directory
 * of the wrapper's across runs, with real rustc. Reuse is read from the
 * files rustc leaves: a reused `.o` of the newest session is a hard link of
 * the previous session's.
 */

import assert from "node:assert/strict";
import {
  existsAt,
  reaped,
  run,
  runWrapper,
  RUSTC,
  tempDir,
  within,
  wrapperCommand,
  writeScript,
} from "./helpers.ts";
import { editOneFunction, writeCrate } from "../fixtures/gen_crate.ts";
import { sessionReuse } from "../fixtures/rustc_reuse.ts";

const SHAPE = { modules: 4, functionsPerModule: 30 };

function compile(store: string, extra: readonly string[] = []): string[] {
  return [
    "--incremental-store",
    store,
    "--",
    RUSTC!,
    "--crate-type=rlib",
    "--crate-name=gen",
    "src/lib.rs",
    "--emit=link",
    "--out-dir=out",
    ...extra,
  ];
}

Deno.test({
  name: "a store keeps rustc's state between runs: an edit reuses the previous session's objects",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    writeCrate(`${work}/src`, SHAPE);
    const first = await runWrapper(["--subst", "pwd=${pwd}", ...compile("${pwd}/store/gen")], {
      cwd: work,
    });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(sessionReuse(`${work}/store/gen/incr`).sessions, 1);

    editOneFunction(`${work}/src`, 2);
    const second = await runWrapper(["--subst", "pwd=${pwd}", ...compile("${pwd}/store/gen")], {
      cwd: work,
    });
    assert.equal(second.code, 0, second.stderr);
    const reuse = sessionReuse(`${work}/store/gen/incr`);
    assert.equal(reuse.sessions, 2);
    assert.ok(reuse.objects > 1);
    assert.ok(reuse.reused >= reuse.objects - 1, JSON.stringify(reuse));
  },
});

Deno.test({
  name: "a changed command line empties the store: old state never meets new flags",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    writeCrate(`${work}/src`, SHAPE);
    assert.equal((await runWrapper(compile(`${work}/store`), { cwd: work })).code, 0);
    const changed = await runWrapper(compile(`${work}/store`, ["-Copt-level=1"]), { cwd: work });
    assert.equal(changed.code, 0, changed.stderr);
    // One session: the first run's was removed with its key, not left beside the new one.
    const state = sessionReuse(`${work}/store/incr`);
    assert.equal(state.sessions, 1);
    assert.equal(state.reused, 0);
  },
});

Deno.test("the child gets -Cincremental=<store>/incr last, and waits while another run holds the store", async () => {
  await using dir = await tempDir();
  const child = writeScript(dir.path, "child.sh", 'printf "%s\\n" "$@"; sleep 0.5');
  const args = ["--incremental-store", `${dir.path}/store`, "--", child, "a"];
  const started = performance.now();
  const [one, two] = await Promise.all([runWrapper(args), runWrapper(args)]);
  assert.equal(one.stdout, `a\n-Cincremental=${dir.path}/store/incr\n`);
  assert.equal(two.stdout, one.stdout);
  // Each child sleeps 0.5 s holding the lock: together, they take one after the other.
  assert.ok(performance.now() - started >= 1000);
});

Deno.test("a store that cannot be made is one line, and the child runs without -Cincremental", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/file`, "in the way");
  const child = writeScript(dir.path, "child.sh", 'printf "%s\\n" "$@"');
  const result = await runWrapper([
    "--incremental-store",
    `${dir.path}/file/store`,
    "--",
    child,
    "a",
  ]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, "a\n");
  assert.match(
    result.stderr,
    /^process wrapper: incremental store .*\/file\/store unusable \(.*\): compiling without incremental state\n$/,
  );
  assert.equal(Deno.readTextFileSync(`${dir.path}/file`), "in the way");
});

Deno.test({
  name: "a metadata run reads a private copy of the store: the store is untouched, and its " +
    ".rmeta links with the compile's .rlib",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    writeCrate(`${work}/src`, SHAPE);
    Deno.mkdirSync(`${work}/out/full`, { recursive: true });
    // As the integration drives them: the same rustc flags but for where the metadata goes.
    const rustc = (metadata: string) => [
      RUSTC!,
      "--crate-type=rlib",
      "--crate-name=gen",
      "src/lib.rs",
      `--emit=metadata=${metadata},link=out/libgen.rlib`,
      "--error-format=json",
      "--json=artifacts",
    ];
    const compile = () =>
      runWrapper(["--incremental-store", "store", "--", ...rustc("out/full/libgen.rmeta")], {
        cwd: work,
      });
    assert.equal((await compile()).code, 0);
    editOneFunction(`${work}/src`, 7);
    const sessionsBefore = sessionReuse(`${work}/store/incr`).sessions;
    const metadata = await runWrapper([
      "--incremental-store",
      "store",
      "--rustc-output-format",
      "json",
      "--rustc-quit-on-rmeta",
      "true",
      "--",
      ...rustc("out/libgen.rmeta"),
    ], { cwd: work });
    assert.equal(metadata.code, 0, metadata.stderr);
    assert.ok(Deno.statSync(`${work}/out/libgen.rmeta`).size > 0);
    assert.equal(sessionReuse(`${work}/store/incr`).sessions, sessionsBefore);
    assert.deepEqual([...Deno.readDirSync(`${work}/store/scratch`)], []);
    assert.equal((await compile()).code, 0);

    // A dependent crate compiled against the metadata run's .rmeta, linked with the .rlib.
    Deno.mkdirSync(`${work}/user`);
    Deno.writeTextFileSync(`${work}/user/lib.rs`, "pub fn twice() -> u64 { gen::total(2) }\n");
    Deno.writeTextFileSync(`${work}/main.rs`, 'fn main() { println!("{}", user::twice()); }\n');
    const steps = [
      ["user/lib.rs", "--crate-type=rlib", "--crate-name=user", "--extern", "gen=out/libgen.rmeta"],
      ["main.rs", "--extern", "user=out/libuser.rlib", "-o", "out/app"],
    ];
    for (const args of steps) {
      const built = await run(RUSTC!, [...args, "--out-dir=out", "-Ldependency=out"], {
        cwd: work,
      });
      assert.equal(built.code, 0, built.stderr);
    }
    const app = await run(`${work}/out/app`, []);
    assert.match(app.stdout, /^\d+\n$/);
  },
});

Deno.test("SIGTERM ends a one-shot run waiting for a store locked elsewhere; its child never runs", async () => {
  await using dir = await tempDir();
  Deno.mkdirSync(`${dir.path}/store`);
  using held = Deno.openSync(`${dir.path}/store/lock`, { read: true, write: true, create: true });
  held.lockSync(true);
  const wrapper = wrapperCommand(
    ["--incremental-store", "store", "--", "/bin/sh", "-c", "echo ran > ran.txt"],
    { cwd: dir.path },
  ).spawn();
  await using _reaped = reaped(wrapper);
  await new Promise((resolve) => setTimeout(resolve, 500));
  wrapper.kill("SIGTERM");
  const status = await within(wrapper.status, 10_000, "the wrapper's exit on SIGTERM");
  await wrapper.stdout.cancel();
  await wrapper.stderr.cancel();
  assert.notEqual(status.code, 0);
  assert.equal(existsAt(`${dir.path}/ran.txt`), false);
});

Deno.test({
  name: "a metadata run whose private copy cannot be made warns once and compiles without " +
    "incremental state, exit 0",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    Deno.mkdirSync(`${work}/store`);
    // A file where the copies' directory goes: not even root can make a directory below it.
    Deno.writeTextFileSync(`${work}/store/scratch`, "in the way");
    Deno.writeTextFileSync(`${work}/lib.rs`, "pub fn one() -> u32 { 1 }\n");
    Deno.mkdirSync(`${work}/out`);
    const metadataRun = [
      "--incremental-store",
      "store",
      "--rustc-quit-on-rmeta",
      "true",
      "--rustc-output-format",
      "rendered",
      "--",
      RUSTC!,
      "--crate-type=rlib",
      "--crate-name=one",
      "lib.rs",
      "--emit=dep-info,metadata,link",
      "--error-format=json",
      "--json=artifacts",
      "--out-dir=out",
    ];
    const result = await runWrapper(metadataRun, { cwd: work });
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /^process wrapper: incremental store store unusable \(.*\): compiling without incremental state\n$/,
    );
    assert.ok(Deno.statSync(`${work}/out/libone.rmeta`).size > 0);
    assert.equal(Deno.readTextFileSync(`${work}/store/scratch`), "in the way");

    const debugged = await runWrapper(metadataRun, {
      cwd: work,
      env: { RULES_RUST_PROCESS_WRAPPER_DEBUG: "1" },
    });
    assert.equal(debugged.code, 0, debugged.stderr);
    const argv = /child argv: (.*)\n/.exec(debugged.stderr)?.[1];
    assert.ok(argv !== undefined, debugged.stderr);
    assert.doesNotMatch(argv, /incremental/);
  },
});
