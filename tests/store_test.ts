/**
 * `--incremental-store DIR`: rustc's incremental state kept in a directory
 * of the wrapper's across runs, with real rustc. Reuse is read from the
 * files rustc leaves: a reused `.o` of the newest session is a hard link of
 * the previous session's.
 */

import assert from "node:assert/strict";
import {
  existsAt,
  isAlive,
  MAIN_TS,
  reaped,
  run,
  runWrapper,
  RUSTC,
  tempDir,
  which,
  within,
  wrapperCommand,
  writeScript,
} from "./helpers.ts";
import { processIdentity } from "../mod/exec/mod.ts";
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

/** A child that says whether its store kept state ("kept") or not ("fresh"), then leaves some. */
const REPORTS_STATE = 'for a; do incr="${a#-Cincremental=}"; done\n' +
  'if [ -e "$incr/state" ]; then echo kept; else echo fresh; fi\n' +
  'mkdir -p "$incr/crate-$(basename "$0")"; touch "$incr/state"';

Deno.test("the key covers what the child receives: @param contents, env-file values, the env, the executable", async () => {
  await using dir = await tempDir();
  const at = (name: string) => `${dir.path}/${name}`;
  writeScript(dir.path, "rustc-a", REPORTS_STATE);
  writeScript(dir.path, "rustc-b", `${REPORTS_STATE}\n# another toolchain`);
  Deno.writeTextFileSync(at("lib.params"), "-Copt-level=0\n");
  Deno.writeTextFileSync(at("build.env"), "CARGO_PKG_VERSION=1.0.0\n");
  const compile = (program: string, env: Record<string, string> = {}) =>
    runWrapper(
      ["--incremental-store", "store", "--env-file", "build.env", "--", program, "@lib.params"],
      { cwd: dir.path, env },
    ).then(({ code, stdout, stderr }) => {
      assert.equal(code, 0, stderr);
      return stdout.trim();
    });
  assert.equal(await compile("./rustc-a"), "fresh");
  assert.equal(await compile("./rustc-a"), "kept");
  Deno.writeTextFileSync(at("lib.params"), "-Copt-level=3\n");
  assert.equal(await compile("./rustc-a"), "fresh", "a changed @param file kept the state");
  Deno.writeTextFileSync(at("build.env"), "CARGO_PKG_VERSION=1.0.1\n");
  assert.equal(await compile("./rustc-a"), "fresh", "a changed env-file value kept the state");
  assert.equal(await compile("./rustc-a", { RUSTUP_TOOLCHAIN: "nightly" }), "fresh");
  assert.equal(await compile("./rustc-a", { RUSTUP_TOOLCHAIN: "nightly" }), "kept");
  // Another toolchain: its state replaces the first's, no second crate directory stays.
  assert.equal(await compile("./rustc-b", { RUSTUP_TOOLCHAIN: "nightly" }), "fresh");
  // (Beside them, the working directory the state was made in.)
  assert.deepEqual(
    [...Deno.readDirSync(at("store/incr"))].map(({ name }) => name)
      .filter((name) => name !== ".process_wrapper_cwd").sort(),
    ["crate-rustc-b", "state"],
  );
});

Deno.test("a value stamped from the volatile status (new on every build) keeps the state; a stable one does not", async () => {
  await using dir = await tempDir();
  const at = (name: string) => `${dir.path}/${name}`;
  writeScript(dir.path, "rustc", REPORTS_STATE);
  Deno.writeTextFileSync(at("stamp.env"), "BUILT_AT={BUILD_TIMESTAMP}\nBUILT_BY={BUILD_USER}\n");
  const compile = (timestamp: number, user: string) => {
    Deno.writeTextFileSync(at("volatile.txt"), `BUILD_TIMESTAMP ${timestamp}\n`);
    Deno.writeTextFileSync(at("stable.txt"), `BUILD_USER ${user}\n`);
    return runWrapper(
      [
        ...["--incremental-store", "store", "--env-file", "stamp.env"],
        ...["--volatile-status-file", "volatile.txt", "--stable-status-file", "stable.txt"],
        ...["--", "./rustc"],
      ],
      { cwd: dir.path },
    ).then(({ code, stdout, stderr }) => {
      assert.equal(code, 0, stderr);
      return stdout.trim();
    });
  };
  assert.equal(await compile(1796139000, "ann"), "fresh");
  assert.equal(await compile(1796139060, "ann"), "kept", "a new timestamp emptied the store");
  assert.equal(await compile(1796139120, "bob"), "fresh", "a changed stable value kept it");
});

Deno.test("a store, or its key, that is a symbolic link is refused in one line; its target is untouched", async () => {
  await using dir = await tempDir();
  const at = (name: string) => `${dir.path}/${name}`;
  Deno.mkdirSync(at("victim/incr"), { recursive: true });
  Deno.writeTextFileSync(at("victim/incr/precious"), "mine");
  Deno.writeTextFileSync(at("victim/key"), "not a key\n");
  Deno.writeTextFileSync(at("victim.txt"), "mine too\n");
  Deno.symlinkSync(at("victim"), at("linked-store"));
  Deno.mkdirSync(at("store"));
  Deno.symlinkSync(at("victim.txt"), at("store/key"));
  const child = writeScript(dir.path, "child.sh", 'printf "%s\\n" "$@"');
  for (const [root, link] of [["linked-store", "linked-store"], ["store", "store/key"]]) {
    const result = await runWrapper(["--incremental-store", at(root), "--", child, "a"]);
    assert.deepEqual([result.code, result.stdout], [0, "a\n"], root);
    assert.equal(
      result.stderr,
      `process wrapper: incremental store ${at(root)} unusable (${at(link)} is a symbolic link): ` +
        "compiling without incremental state\n",
    );
  }
  assert.equal(Deno.readTextFileSync(at("victim/incr/precious")), "mine");
  assert.equal(Deno.readTextFileSync(at("victim/key")), "not a key\n");
  assert.equal(Deno.readTextFileSync(at("victim.txt")), "mine too\n");
});

Deno.test("the private copy of a SIGKILLed metadata run is removed by the next run; a live run's stays", async () => {
  await using dir = await tempDir();
  const scratch = `${dir.path}/store/scratch`;
  const live = new Deno.Command("/bin/sleep", { args: ["30"] }).spawn();
  try {
    const { pid, start } = processIdentity(live.pid);
    Deno.mkdirSync(`${scratch}/${pid}-${start}-in-use`, { recursive: true });
    // A metadata run whose child never emits metadata, killed with its wrapper.
    const metadataRun = wrapperCommand([
      "--incremental-store",
      "store",
      "--rustc-output-format",
      "json",
      "--rustc-quit-on-rmeta",
      "true",
      "--",
      "/bin/sh",
      "-c",
      "echo $$ > child.pid; exec sleep 30",
    ], { cwd: dir.path }).spawn();
    while (!existsAt(`${dir.path}/child.pid`)) await new Promise((r) => setTimeout(r, 10));
    metadataRun.kill("SIGKILL");
    await metadataRun.status;
    await metadataRun.stdout.cancel();
    await metadataRun.stderr.cancel();
    Deno.kill(Number(Deno.readTextFileSync(`${dir.path}/child.pid`)), "SIGKILL");
    assert.equal([...Deno.readDirSync(scratch)].length, 2, "the killed run left its copy");

    const next = await runWrapper(["--incremental-store", "store", "--", "/bin/true"], {
      cwd: dir.path,
    });
    assert.equal(next.code, 0, next.stderr);
    assert.deepEqual([...Deno.readDirSync(scratch)].map(({ name }) => name), [
      `${pid}-${start}-in-use`,
    ]);
  } finally {
    live.kill("SIGKILL");
    await live.status;
  }
});

Deno.test("SIGKILL to a wrapper whose child still runs: the next run on the store waits for that child", async () => {
  await using dir = await tempDir();
  const first = writeScript(
    dir.path,
    "first.sh",
    "echo first-start >> log; echo $$ > first.pid; sleep 1; echo first-end >> log",
  );
  const second = writeScript(dir.path, "second.sh", "echo second >> log");
  const wrapper = wrapperCommand(["--incremental-store", "store", "--", first], {
    cwd: dir.path,
  }).spawn();
  // The record is written right after the spawn, so the child may write its pid before it.
  while (!existsAt(`${dir.path}/first.pid`) || !existsAt(`${dir.path}/store/owner`)) {
    await new Promise((r) => setTimeout(r, 10));
  }
  wrapper.kill("SIGKILL");
  await wrapper.status;
  await wrapper.stdout.cancel();
  await wrapper.stderr.cancel();
  const firstChild = Number(Deno.readTextFileSync(`${dir.path}/first.pid`));
  assert.ok(isAlive(firstChild), "the first child should outlive its wrapper");
  const result = await runWrapper(["--incremental-store", "store", "--", second], {
    cwd: dir.path,
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    Deno.readTextFileSync(`${dir.path}/log`),
    "first-start\nfirst-end\nsecond\n",
    "the second run wrote the store while the first child still did",
  );
});

Deno.test("an owner record that cannot be written is one line; the child runs on and the run succeeds", async () => {
  await using dir = await tempDir();
  Deno.mkdirSync(`${dir.path}/store/owner`, { recursive: true }); // in the way of the record
  const child = writeScript(dir.path, "child.sh", "echo ran");
  const result = await runWrapper(["--incremental-store", "store", "--", child], {
    cwd: dir.path,
  });
  assert.deepEqual([result.code, result.stdout], [0, "ran\n"]);
  assert.match(
    result.stderr,
    /^process wrapper: incremental store store: cannot record the child \(IsADirectory: [^\n]*\)\n$/,
  );
});

Deno.test({
  name: "rustc failing on a full disk under the store: one line, compiled again without " +
    "incremental state, and it succeeds",
  // A 256 KiB tmpfs in a private mount namespace: nothing outside the test sees it.
  ignore: RUSTC === undefined || Deno.uid() !== 0 || which("unshare") === undefined,
  async fn() {
    await using dir = await tempDir();
    writeCrate(`${dir.path}/src`, SHAPE);
    Deno.mkdirSync(`${dir.path}/small`);
    Deno.mkdirSync(`${dir.path}/out`);
    const scenario = writeScript(
      dir.path,
      "scenario.sh",
      "mount -t tmpfs -o size=256k tmpfs small || exit 2\n" +
        'exec "$DENO" run -A "$MAIN" --incremental-store small/store -- "$RUSTC" ' +
        "--crate-type=rlib --crate-name=gen src/lib.rs --emit=link --out-dir=out",
    );
    const result = await run("unshare", ["--mount", scenario], {
      cwd: dir.path,
      env: { DENO: Deno.execPath(), MAIN: MAIN_TS, RUSTC: RUSTC! },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(result.stderr.includes("(os error 28)"), result.stderr);
    assert.ok(
      result.stderr.endsWith(
        "process wrapper: incremental store small/store: the disk is full: compiling again " +
          "without incremental state\n",
      ),
      result.stderr,
    );
    assert.ok(Deno.statSync(`${dir.path}/out/libgen.rlib`).size > 0);
  },
});
