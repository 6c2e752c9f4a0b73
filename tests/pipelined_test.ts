/**
 * `--incremental-pipelining`: a crate's metadata run and its compile share
 * one real rustc through a real persistent worker, the way rules_rust's
 * `RustcMetadata` and `Rustc` actions reach it (same arguments, the metadata
 * run with `--rustc-quit-on-rmeta true`); run alone, each stands on its own.
 */

import assert from "node:assert/strict";
import {
  existsAt,
  isAlive,
  reaped,
  run,
  runWrapper,
  RUSTC,
  startWorker,
  stillAlive,
  tempDir,
  within,
} from "./helpers.ts";
import { editOneFunction, writeCrate } from "../fixtures/gen_crate.ts";
import { sessionReuse } from "../fixtures/rustc_reuse.ts";

/** Big enough that rustc works on well after its `.rmeta` is out. */
const SHAPE = { modules: 24, functionsPerModule: 40 };
const RMETA = "out/libshapes-1.rmeta";
const RLIB = "out/libshapes-1.rlib";

/** A process's niceness, from its `/proc/<pid>/stat` (or a thread's). */
const niceness = (stat: string) => Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);

/** The metadata run's and the compile's wrapper command lines (rules_rust's, plus the store). */
function commandLines(work: string, metadata: boolean, wrapperFlags: string[] = []): string[] {
  return [
    ...wrapperFlags,
    ...["--incremental-store", `${work}/store`, "--incremental-pipelining", "true"],
    ...(metadata ? ["--rustc-quit-on-rmeta", "true"] : []),
    ...["--rustc-output-format", "rendered", "--", RUSTC!, "src/lib.rs"],
    ...["--crate-name=shapes", "--crate-type=rlib", "--emit=dep-info,link,metadata"],
    ...["--error-format=json", "--json=artifacts", "--out-dir=out", "-Cextra-filename=-1"],
  ];
}

/** A real worker in `work`, its responses read line by line. */
function worker(work: string) {
  const process = startWorker(work, { stdout: "piped", stderr: "null" });
  const writer = process.stdin.getWriter();
  const reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let pending = "";
  const encoder = new TextEncoder();
  return {
    process,
    send: (requestId: number, args: string[]) =>
      writer.write(encoder.encode(JSON.stringify({ arguments: args, requestId }) + "\n")),
    cancel: (requestId: number) =>
      writer.write(encoder.encode(JSON.stringify({ requestId, cancel: true }) + "\n")),
    async next(what: string): Promise<{ requestId: number; exitCode: number; output: string }> {
      while (!pending.includes("\n")) {
        const { value, done } = await within(reader.read(), 120_000, what);
        assert.equal(done, false, `${what}: the worker's stdout ended`);
        pending += value;
      }
      const end = pending.indexOf("\n");
      const line = pending.slice(0, end);
      pending = pending.slice(end + 1);
      return JSON.parse(line);
    },
    /** Ends the worker's input and waits (bounded) for its exit. */
    async close(): Promise<Deno.CommandStatus> {
      await writer.close();
      return await within(process.status, 10_000, "the worker's exit");
    },
  };
}

function crate(work: string): void {
  writeCrate(`${work}/src`, SHAPE);
  Deno.mkdirSync(`${work}/out`);
}

/**
 * A dependent compiled against the `.rmeta` and a binary linked with the
 * `.rlib`: rustc's crate hashes of the two must agree (else E0460).
 */
async function linkDependent(work: string): Promise<void> {
  Deno.writeTextFileSync(
    `${work}/user.rs`,
    "pub fn twice(x: u64) -> u64 { shapes::total(x).wrapping_mul(2) }\n",
  );
  Deno.writeTextFileSync(`${work}/main.rs`, 'fn main() { println!("{}", user::twice(1)); }\n');
  const user = await run(RUSTC!, [
    ...["user.rs", "--crate-type=rlib", "--crate-name=user", "--edition=2021"],
    ...["--extern", `shapes=${RMETA}`, "--out-dir=out"],
  ], { cwd: work });
  assert.equal(user.code, 0, user.stderr);
  const main = await run(RUSTC!, [
    ...["main.rs", "--crate-type=bin", "--edition=2021", "-o", "out/main"],
    ...["--extern", "user=out/libuser.rlib", "-Ldependency=out"],
  ], { cwd: work });
  assert.equal(main.code, 0, main.stderr);
  const ran = await run(`${work}/out/main`, []);
  assert.equal(ran.code, 0, ran.stderr);
}

Deno.test({
  name: "through a worker, the metadata run answers at the .rmeta and the compile takes the " +
    ".rlib of the same rustc, whose session is finalized and reused after an edit",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    crate(work);
    const pw = worker(work);
    await using _reaped = reaped(pw.process);
    for (const round of [1, 2]) {
      if (round === 2) {
        editOneFunction(`${work}/src`, 7);
        for (const file of [RMETA, RLIB]) Deno.removeSync(`${work}/${file}`);
      }
      await pw.send(10 * round, commandLines(work, true));
      const metadata = await pw.next("the metadata answer");
      assert.deepEqual([metadata.requestId, metadata.exitCode], [10 * round, 0], metadata.output);
      assert.ok(existsAt(`${work}/${RMETA}`), "the .rmeta is in place when answered");
      assert.equal(existsAt(`${work}/${RLIB}`), false, "the .rlib is the compile's to copy");
      await pw.send(10 * round + 1, commandLines(work, false));
      const compile = await pw.next("the compile answer");
      assert.deepEqual([compile.requestId, compile.exitCode], [10 * round + 1, 0], compile.output);
      assert.ok(existsAt(`${work}/${RLIB}`));
      await linkDependent(work);
    }
    const reuse = sessionReuse(`${work}/store/incr`);
    assert.equal(reuse.sessions, 2, "both rounds' sessions finalized");
    assert.ok(reuse.reused >= reuse.objects * 0.9, JSON.stringify(reuse));
    assert.equal((await pw.close()).code, 0);
  },
});

Deno.test({
  name:
    "a compile that comes after its crate's rustc ended takes that rustc's files: no second rustc",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    await using answered = await answeredForMetadata(work);
    const { pw, rustc } = answered;
    assert.deepEqual(await stillAlive({ rustc }, 60_000), [], "rustc ends on its own");
    const made = Deno.statSync(`${work}/store/out/libshapes-1.rlib`).ino;
    await pw.send(2, commandLines(work, false));
    assert.equal((await pw.next("the compile answer")).exitCode, 0);
    assert.equal(Deno.statSync(`${work}/store/out/libshapes-1.rlib`).ino, made, "rustc ran again");
    assert.ok(existsAt(`${work}/${RLIB}`));
    await pw.close();
  },
});

Deno.test({
  name: "a metadata run never joins an earlier rustc: after an edit, with that rustc's compile " +
    "never sent, a new rustc makes the new sources' .rmeta",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    await using answered = await answeredForMetadata(work);
    const { pw, rustc } = answered;
    assert.deepEqual(await stillAlive({ rustc }, 60_000), [], "rustc ends on its own");
    const before = Deno.readFileSync(`${work}/${RMETA}`);
    // The build was interrupted: no compile. The next build edits a (generic) function.
    editOneFunction(`${work}/src`, 11);
    Deno.removeSync(`${work}/${RMETA}`);
    await pw.send(2, commandLines(work, true));
    assert.equal((await pw.next("the next metadata answer")).exitCode, 0);
    const after = Deno.readFileSync(`${work}/${RMETA}`);
    assert.notDeepEqual(after, before, "the .rmeta of the sources before the edit");
    await pw.send(3, commandLines(work, false));
    assert.equal((await pw.next("the compile answer")).exitCode, 0);
    await linkDependent(work);
    await pw.close();
  },
});

Deno.test({
  name: "each run writes its own --output-file: what rustc wrote up to the .rmeta to the " +
    "metadata run's, the rest to the compile's",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    crate(work);
    const pw = worker(work);
    await using _reaped = reaped(pw.process);
    await pw.send(1, commandLines(work, true, ["--output-file", "metadata.log"]));
    assert.equal((await pw.next("the metadata answer")).exitCode, 0);
    await pw.send(2, commandLines(work, false, ["--output-file", "compile.log"]));
    assert.equal((await pw.next("the compile answer")).exitCode, 0);
    const metadataLog = Deno.readTextFileSync(`${work}/metadata.log`);
    const compileLog = Deno.readTextFileSync(`${work}/compile.log`);
    assert.match(metadataLog, /"emit":"dep-info"\}\n.*"emit":"metadata"\}\n$/);
    assert.match(compileLog, /^.*"emit":"link"\}\n$/);
    await pw.close();
  },
});

Deno.test({
  name: "run alone, the compile compiles and checks its .rmeta against the one dependents got: " +
    "the same passes, another (of any size) fails in one line",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    crate(work);
    // One-shot: the metadata run runs rustc to its end and copies the .rmeta.
    const metadata = await runWrapper(commandLines(work, true), { cwd: work });
    assert.equal(metadata.code, 0, metadata.stderr);
    assert.equal(existsAt(`${work}/${RLIB}`), false);
    const compile = await runWrapper(commandLines(work, false), { cwd: work });
    assert.equal(compile.code, 0, compile.stderr);
    await linkDependent(work);

    const given = Deno.readFileSync(`${work}/${RMETA}`);
    const lastByteFlipped = given.with(-1, given.at(-1)! ^ 1);
    Deno.removeSync(`${work}/${RLIB}`);
    for (const other of [new TextEncoder().encode("not this crate's metadata"), lastByteFlipped]) {
      Deno.writeFileSync(`${work}/${RMETA}`, other);
      const mismatch = await runWrapper(commandLines(work, false), { cwd: work });
      assert.equal(mismatch.code, 1);
      assert.match(
        mismatch.stderr,
        /^process wrapper: out\/libshapes-1\.rmeta, which dependents compiled against, differs from this compile's \.rmeta: .*\n$/,
      );
      assert.equal(existsAt(`${work}/${RLIB}`), false, "no .rlib for dependents of another .rmeta");
    }
  },
});

Deno.test({
  name: "run one-shot with their rustc arguments in param files of different names (as Bazel " +
    "names a crate's two actions'), the metadata run and the compile share the store's state",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    crate(work);
    const rest = commandLines(work, false).slice(
      commandLines(work, false).indexOf("src/lib.rs") + 1,
    )
      .filter((arg) => !arg.startsWith("--out-dir="));
    for (const name of ["metadata.params", "compile.params"]) {
      Deno.writeTextFileSync(`${work}/${name}`, rest.join("\n") + "\n");
    }
    const run = (metadata: boolean) => {
      const args = commandLines(work, metadata);
      const rustcAt = args.indexOf("src/lib.rs");
      return runWrapper(
        [
          ...args.slice(0, rustcAt + 1),
          "--out-dir=out",
          `@${metadata ? "metadata" : "compile"}.params`,
        ],
        { cwd: work },
      );
    };
    for (const metadata of [true, false]) {
      const result = await run(metadata);
      assert.equal(result.code, 0, result.stderr);
    }
    // The compile's rustc started from the metadata run's session: both kept, all reused.
    const reuse = sessionReuse(`${work}/store/incr`);
    assert.equal(reuse.sessions, 2, JSON.stringify(reuse));
    assert.equal(reuse.reused, reuse.objects, JSON.stringify(reuse));
    await linkDependent(work);
  },
});

Deno.test({
  name: "a compile error: the metadata run fails with rustc's diagnostic, printed once",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    crate(work);
    Deno.writeTextFileSync(`${work}/src/lib.rs`, 'pub fn broken() -> u32 { "no" }\n', {
      append: true,
    });
    const pw = worker(work);
    await using _reaped = reaped(pw.process);
    await pw.send(1, commandLines(work, true));
    const metadata = await pw.next("the metadata answer");
    assert.equal(metadata.exitCode, 1);
    assert.equal(metadata.output.split("error[E0308]: mismatched types").length, 2);
    await pw.close();
  },
});

Deno.test({
  name: "cancelling the compile kills the shared rustc; the store serves the next build",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    await using answered = await answeredForMetadata(work);
    const { pw, rustc } = answered;
    await pw.send(2, commandLines(work, false));
    await pw.cancel(2);
    const cancelled = await pw.next("the cancelled compile's answer");
    assert.equal(cancelled.requestId, 2);
    assert.equal(isAlive(rustc), false, "the shared rustc is dead");
    Deno.removeSync(`${work}/${RMETA}`);
    await pw.send(3, commandLines(work, true));
    assert.equal((await pw.next("the next metadata answer")).exitCode, 0);
    await pw.send(4, commandLines(work, false));
    assert.equal((await pw.next("the next compile answer")).exitCode, 0);
    await linkDependent(work);
    await pw.close();
  },
});

Deno.test({
  name: "SIGTERM to a worker whose rustc was answered for its metadata kills that rustc, exit 143",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    await using answered = await answeredForMetadata(work);
    const { pw, rustc } = answered;
    pw.process.kill("SIGTERM");
    assert.equal((await within(pw.process.status, 10_000, "the worker's exit")).code, 143);
    assert.deepEqual(await stillAlive({ rustc }, 5000), []);
  },
});

Deno.test({
  name: "a rustc answered for its metadata steps back 10 in the scheduler, every thread: its " +
    "dependents come first",
  // At 10 or more, a step of 10 would hit the ceiling of 19 and could not be told from others.
  ignore: RUSTC === undefined || niceness(Deno.readTextFileSync("/proc/self/stat")) > 9,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    await using answered = await answeredForMetadata(work);
    const { pw, rustc } = answered;
    const own = niceness(Deno.readTextFileSync("/proc/self/stat"));
    const threads = [...Deno.readDirSync(`/proc/${rustc}/task`)].map(({ name }) =>
      niceness(Deno.readTextFileSync(`/proc/${rustc}/task/${name}/stat`))
    );
    assert.ok(threads.length > 1, "rustc compiles on more than one thread");
    assert.deepEqual(new Set(threads), new Set([own + 10]));
    await pw.send(2, commandLines(work, false));
    assert.equal((await pw.next("the compile answer")).exitCode, 0);
    await pw.close();
  },
});

Deno.test({
  name: "a rustc answered for its metadata counts as a running child: another request's child " +
    "starts only once it is joined or ends",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const work = dir.path;
    await using answered = await answeredForMetadata(work);
    const { pw, rustc } = answered;
    // Another crate's action arrives before this crate's compile.
    await pw.send(2, ["--", "/bin/sh", "-c", "date +%s%N > other.started"]);
    const other = await pw.next("the other request's answer");
    assert.equal(other.requestId, 2);
    const started = Number(Deno.readTextFileSync(`${work}/other.started`)) / 1e6;
    const rlibWritten = Deno.statSync(`${work}/store/out/libshapes-1.rlib`).mtime!.getTime();
    assert.ok(started >= rlibWritten, "the other child started after rustc's last file");
    assert.equal(isAlive(rustc), false);
    await pw.send(3, commandLines(work, false));
    assert.equal((await pw.next("the compile answer")).exitCode, 0);
    await pw.close();
  },
});

/**
 * A worker in `work`, with a fresh crate, whose rustc was answered for its
 * metadata and goes on (its pid); the worker is reaped when disposed.
 */
async function answeredForMetadata(work: string) {
  crate(work);
  const pw = worker(work);
  const reap = reaped(pw.process);
  try {
    await pw.send(1, commandLines(work, true));
    assert.equal((await pw.next("the metadata answer")).exitCode, 0);
    const rustc = rustcPids(work);
    assert.equal(rustc.length, 1, "rustc goes on after the metadata answer");
    return { pw, rustc: rustc[0], [Symbol.asyncDispose]: () => reap[Symbol.asyncDispose]() };
  } catch (error) {
    await reap[Symbol.asyncDispose]();
    throw error;
  }
}

/** The rustc processes writing into `work`'s store. */
function rustcPids(work: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const argv = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0");
      if (argv.includes(`--out-dir=${work}/store/out`)) pids.push(Number(entry.name));
    } catch {
      // Ended meanwhile.
    }
  }
  return pids;
}
