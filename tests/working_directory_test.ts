/**
 * Never slower than incremental=false: rustc discards incremental state made
 * in another working directory (every Bazel sandbox is one), so seeded or
 * stored state made elsewhere reaches the child without `-Cincremental`.
 * Seen from a child that prints its argv, and from real rustc's sessions.
 */

import assert from "node:assert/strict";
import { MADE_IN_FILE } from "../mod/seed/mod.ts";
import { editOneFunction, writeCrate } from "../fixtures/gen_crate.ts";
import { sessionReuse } from "../fixtures/rustc_reuse.ts";
import {
  reaped,
  run,
  runWrapper,
  RUSTC,
  sortedPaths,
  startWorker,
  tempDir,
  within,
  writeScript,
} from "./helpers.ts";

const DEBUG = { RULES_RUST_PROCESS_WRAPPER_DEBUG: "1" };

/** A fresh directory `a`, `b`, ... under `root`, each a working directory of its own. */
function directories(root: string, names: readonly string[]): void {
  for (const name of names) Deno.mkdirSync(`${root}/${name}`);
}

Deno.test(
  "tree mode: a seed made in another directory reaches the child without -Cincremental; " +
    "a first build and a seed made here keep it",
  async () => {
    await using dir = await tempDir();
    const root = Deno.realPathSync(dir.path);
    directories(root, ["a", "b", "empty"]);
    const child = writeScript(root, "argv.sh", 'printf "%s\\n" "$@"');
    // As the PR 3925 compile action: seed DEST, then rustc with -Cincremental=DEST.
    const compile = (cwd: string, seed: string) =>
      runWrapper(
        [
          "--copy-seed",
          seed,
          "incr",
          "--seed-min-mb",
          "0",
          "--",
          child,
          "lib.rs",
          "-Cincremental=incr",
        ],
        { cwd: `${root}/${cwd}`, env: DEBUG },
      );

    const first = await compile("a", "../empty");
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, "lib.rs\n-Cincremental=incr\n", "no record yet: incremental");
    assert.equal(Deno.readTextFileSync(`${root}/a/incr/${MADE_IN_FILE}`), `${root}/a\n`);
    assert.equal((await run("cp", ["-a", `${root}/a/incr`, `${root}/prev`])).code, 0);
    Deno.chmodSync(`${root}/prev/${MADE_IN_FILE}`, 0o444); // as Bazel leaves its outputs

    Deno.removeSync(`${root}/a/incr`, { recursive: true });
    const here = await compile("a", "../prev");
    assert.equal(here.stdout, "lib.rs\n-Cincremental=incr\n", "made here: incremental");

    const elsewhere = await compile("b", "../prev");
    assert.equal(elsewhere.code, 0, elsewhere.stderr);
    assert.equal(elsewhere.stdout, "lib.rs\n", "made elsewhere: no -Cincremental");
    assert.match(
      elsewhere.stderr,
      new RegExp(
        `incremental state in incr was made in ${root}/a, rustc discards it in ${root}/b: ` +
          "compiling without -Cincremental",
      ),
    );
    assert.equal(Deno.readTextFileSync(`${root}/prev/${MADE_IN_FILE}`), `${root}/a\n`);
    // The output tree: no state to copy on, and the record of where this run was.
    assert.deepEqual(sortedPaths(`${root}/b/incr`), [MADE_IN_FILE]);
    assert.equal(Deno.readTextFileSync(`${root}/b/incr/${MADE_IN_FILE}`), `${root}/b\n`);

    // Seeded from that tree: in b, a first build's cold incremental; anywhere else, none.
    Deno.renameSync(`${root}/b/incr`, `${root}/from-b`);
    assert.equal((await compile("b", "../from-b")).stdout, "lib.rs\n-Cincremental=incr\n");
    Deno.removeSync(`${root}/a/incr`, { recursive: true });
    assert.equal((await compile("a", "../from-b")).stdout, "lib.rs\n");
  },
);

Deno.test("store mode: a store made in another directory is left alone and the child runs without -Cincremental", async () => {
  await using dir = await tempDir();
  const root = Deno.realPathSync(dir.path);
  directories(root, ["a", "b"]);
  const child = writeScript(root, "argv.sh", 'printf "%s\\n" "$@"');
  const compile = (cwd: string) =>
    runWrapper(["--incremental-store", `${root}/store`, "--", child, "lib.rs"], {
      cwd: `${root}/${cwd}`,
    });
  const withStore = `lib.rs\n-Cincremental=${root}/store/incr\n`;
  assert.equal((await compile("a")).stdout, withStore);
  assert.equal((await compile("b")).stdout, "lib.rs\n");
  assert.equal(Deno.readTextFileSync(`${root}/store/incr/${MADE_IN_FILE}`), `${root}/a\n`);
  assert.equal((await compile("a")).stdout, withStore, "the store still serves its directory");
});

Deno.test({
  name: "real rustc: a seed made in another directory is compiled without -Cincremental (no " +
    "session, the seed dropped), where rustc given it would reuse nothing; made here, it is reused",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const root = Deno.realPathSync(dir.path);
    directories(root, ["a", "b", "empty"]);
    const shape = { modules: 4, functionsPerModule: 30 };
    for (const cwd of ["a", "b"]) writeCrate(`${root}/${cwd}/src`, shape);
    const compile = (cwd: string, seed: string, incr: string) =>
      runWrapper([
        "--copy-seed",
        seed,
        incr,
        "--seed-min-mb",
        "0",
        "--",
        RUSTC!,
        "--crate-type=rlib",
        "--crate-name=gen",
        "src/lib.rs",
        "--emit=link",
        "--out-dir=out",
        `-Cincremental=${incr}`,
      ], { cwd: `${root}/${cwd}` });

    const first = await compile("a", "../empty", "incr");
    assert.equal(first.code, 0, first.stderr);
    assert.equal((await run("cp", ["-a", `${root}/a/incr`, `${root}/prev`])).code, 0);
    for (const cwd of ["a", "b"]) editOneFunction(`${root}/${cwd}/src`, 2);

    const here = await compile("a", "../prev", "incr2");
    assert.equal(here.code, 0, here.stderr);
    const reused = sessionReuse(`${root}/a/incr2`);
    assert.equal(reused.sessions, 2);
    assert.ok(reused.reused >= reused.objects - 1, JSON.stringify(reused));

    const elsewhere = await compile("b", "../prev", "incr");
    assert.equal(elsewhere.code, 0, elsewhere.stderr);
    assert.ok(Deno.statSync(`${root}/b/out/libgen.rlib`).size > 0);
    assert.deepEqual(
      sortedPaths(`${root}/b/incr`),
      [MADE_IN_FILE],
      "rustc made no session (it ran without -Cincremental), and the seed was dropped",
    );

    // What it avoided: the same seed without its record, given to rustc in b, reuses nothing.
    assert.equal((await run("cp", ["-a", `${root}/prev`, `${root}/unrecorded`])).code, 0);
    Deno.removeSync(`${root}/unrecorded/${MADE_IN_FILE}`);
    const discarded = await compile("b", "../unrecorded", "incr3");
    assert.equal(discarded.code, 0, discarded.stderr);
    const cold = sessionReuse(`${root}/b/incr3`);
    assert.deepEqual([cold.sessions >= 1, cold.reused], [true, 0], JSON.stringify(cold));
  },
});

Deno.test("worker: a request run in its sandboxDir gets no -Cincremental for state made in the worker's directory", async () => {
  await using dir = await tempDir();
  const root = Deno.realPathSync(dir.path);
  directories(root, ["sandbox", "empty"]);
  const child = writeScript(root, "argv.sh", 'printf "%s\\n" "$@"');
  const worker = startWorker(root, { stdout: "piped", stderr: "null" });
  await using _reaped = reaped(worker);
  const writer = worker.stdin.getWriter();
  const compile = (seed: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      arguments: [
        "--copy-seed",
        seed,
        "incr",
        "--seed-min-mb",
        "0",
        "--",
        child,
        "-Cincremental=incr",
      ],
      requestId: 0,
      ...extra,
    }) + "\n";
  await writer.write(new TextEncoder().encode(compile(`${root}/empty`)));
  await writer.write(new TextEncoder().encode(compile(`${root}/incr`, { sandboxDir: "sandbox" })));
  await writer.close();
  const output = await within(worker.output(), 30_000, "the worker's answers");
  const answers = new TextDecoder().decode(output.stdout).trimEnd().split("\n").map((line) =>
    JSON.parse(line).output
  );
  assert.deepEqual(answers, ["-Cincremental=incr\n", "\n"]);
  assert.equal(Deno.readTextFileSync(`${root}/incr/${MADE_IN_FILE}`), `${root}\n`);
  assert.equal(Deno.readTextFileSync(`${root}/sandbox/incr/${MADE_IN_FILE}`), `${root}/sandbox\n`);
});
