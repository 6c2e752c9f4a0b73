/**
 * Incremental compilation in real rules_rust 0.9.0, as a user gets it: rules_rust patched with
 * `patches/rules_rust-0.9.0.patch`, this wrapper chosen by the label flag, and
 * `--@rules_rust//rust/settings:incremental=true` (rules_rust PR 3925's setting), built as the
 * unprivileged user `nobody`. The workspace `e2e/rules_rust` has a library chain with a build
 * script and a proc-macro below it, a generated crate that is edited (`//chain:shapes`), a
 * binary, unit and standalone tests, a shared and a static library, and a crate from an external
 * repository. For the store (default), tree and persistent-worker modes: a one-line edit reuses
 * the edited crate's objects, the program is the one incremental=false builds, a rebuild with no
 * change runs nothing, and what PR 3925 leaves out (external crates, the exec configuration,
 * `-c opt`) gets no incremental state.
 */

import assert from "node:assert/strict";
import {
  bazelBuild,
  bazelCommand,
  type BazelRunner,
  outputBase,
  type Spawn,
} from "../fixtures/bazel.ts";
import { editOneFunction } from "../fixtures/gen_crate.ts";
import {
  missingThirdParty,
  prepareRulesRustWorkspace,
  USE_THIS_WRAPPER,
} from "../fixtures/rules_rust.ts";
import { sessionReuse } from "../fixtures/rustc_reuse.ts";
import { run, RUSTC, tempDir } from "./helpers.ts";

const missing = missingThirdParty();
const BUILD_TIMEOUT_MS = 600_000;
const SETTINGS = "--@rules_rust//rust/settings";
const TARGETS = ["//app/...", "//chain/...", "//lib/...", "//macros/..."];
const CLIPPY_AND_RUSTFMT = [
  "--aspects=@rules_rust//rust:defs.bzl%rust_clippy_aspect,@rules_rust//rust:defs.bzl%rustfmt_aspect",
  "--output_groups=+clippy_checks,+rustfmt_checks",
];
const COMMON = [USE_THIS_WRAPPER, `${SETTINGS}:pipelined_compilation=true`];
const OFF = [...COMMON, `${SETTINGS}:incremental=false`];
const STORE = [...COMMON, `${SETTINGS}:incremental=true`];
const MODES: Record<string, readonly string[]> = {
  "store (default)": STORE,
  "tree (PR 3925)": [...STORE, `${SETTINGS}:incremental_mode=tree`],
  // Pipelined too: an incremental library's metadata action and its compile share one rustc.
  "store + persistent workers": [
    ...STORE,
    `${SETTINGS}:experimental_persistent_worker=true`,
    "--experimental_worker_allow_json_protocol",
  ],
};

/** The outputs of the crates that must be incremental: one of each crate kind. */
const INCREMENTAL_OUTPUTS = [
  /\/k8-fastbuild\/bin\/chain\/libshapes-\d+\.rlib$/,
  /\/k8-fastbuild\/bin\/chain\/chain_app$/,
  /\/k8-fastbuild\/bin\/chain\/test-\d+\/shapes_test$/,
  /\/k8-fastbuild\/bin\/chain\/test-\d+\/chain_test$/,
  /\/k8-fastbuild\/bin\/chain\/libchain_cdylib\.so$/,
  /\/k8-fastbuild\/bin\/chain\/libchain_staticlib\.a$/,
  /\/k8-fastbuild\/bin\/lib\/libgreeter-\d+\.rlib$/,
  /\/k8-fastbuild\/bin\/lib\/libpolite-\d+\.rlib$/,
  /\/k8-fastbuild\/bin\/app\/app$/,
];

/** What must never be incremental: the external crate, the exec configuration. */
const NEVER_INCREMENTAL = [
  /\/external\/outside\/liboutside-\d+\.(rlib|rmeta)$/,
  /-exec-[^/]+\/bin\/macros\/libanswer-\d+\.so$/,
  /-exec-[^/]+\/bin\/lib\/build_script_$/,
];

Deno.test({
  name: "real rules_rust 0.9.0 with incremental=true: store, tree and workers reuse rustc's state",
  ignore: RUSTC === undefined || missing !== undefined,
  async fn(t) {
    await using dir = await tempDir("pw-rules-rust-incr-");
    Deno.chmodSync(dir.path, 0o755);
    const runner = await prepareRulesRustWorkspace(dir.path, {
      patched: true,
      timeoutMs: BUILD_TIMEOUT_MS,
    });
    const ws = runner.workspace;
    let edits = 0;
    const edit = () => editOneFunction(`${ws}/chain/shapes`, 100 + ++edits);
    const build = async (flags: readonly string[], targets = TARGETS) =>
      (await bazelBuild(runner, [...targets, ...flags])).spawns;
    const program = async () => {
      const ran = await run(`${ws}/bazel-bin/chain/chain_app`, []);
      assert.equal(ran.code, 0, ran.stderr);
      assert.match(ran.stdout, /^hello chain \(42, 42, cfg on\)\nshapes total \d+\nfrom an ext/);
      return ran.stdout;
    };

    try {
      for (const [mode, flags] of Object.entries(MODES)) {
        const shapesState = () =>
          mode.startsWith("tree")
            ? `${ws}/bazel-bin/chain/_incremental/shapes`
            : `${
              outputBase(runner)
            }/deno_process_wrapper/incremental/bazel-out/k8-fastbuild/bin/chain/shapes/incr`;

        await t.step(`${mode}: a cold pipelined build with clippy and rustfmt`, async () => {
          const spawns = await build([...flags, ...CLIPPY_AND_RUSTFMT]);
          const incremental = spawns.filter((spawn) => isIncremental(ws, spawn));
          for (const output of INCREMENTAL_OUTPUTS) {
            assert.ok(
              incremental.some((spawn) => spawn.listedOutputs?.some((path) => output.test(path))),
              `${output} was compiled with incremental state`,
            );
          }
          for (const output of NEVER_INCREMENTAL) {
            const compiled = spawns.filter((spawn) =>
              spawn.mnemonic.startsWith("Rustc") &&
              spawn.listedOutputs?.some((path) => output.test(path))
            );
            assert.ok(
              compiled.every((spawn) => !isIncremental(ws, spawn)),
              `${output} got no incremental state`,
            );
          }
          // Without workers one rustc action writes an incremental crate's .rlib and .rmeta; in
          // the worker its metadata action and its compile share one rustc. An external one
          // pipelines as rules_rust does.
          const metadata = spawns.filter((spawn) => spawn.mnemonic === "RustcMetadata");
          const ownMetadata = metadata.filter((spawn) =>
            spawn.listedOutputs?.some((path) => /bin\/(chain|lib)\/lib\w+-\d+\.rmeta$/.test(path))
          );
          if (mode.includes("workers")) {
            assert.equal(ownMetadata.length, 3, "greeter, polite and shapes");
            assert.ok(ownMetadata.every((spawn) => isIncremental(ws, spawn)));
          } else {
            assert.deepEqual(ownMetadata, []);
          }
          const metadataOutputs = metadata.flatMap((spawn) => spawn.listedOutputs ?? []);
          if (mode === Object.keys(MODES)[0]) {
            // What no mode changes is built once, then taken from the action cache.
            assert.ok(metadataOutputs.some((path) => /external\/outside\/.*\.rmeta$/.test(path)));
            for (const mnemonic of ["Clippy", "Rustfmt"]) {
              assert.ok(spawns.some((spawn) => spawn.mnemonic === mnemonic), mnemonic);
            }
          }
          if (mode.includes("workers")) {
            const rustc = spawns.filter((spawn) => spawn.mnemonic.startsWith("Rustc"));
            assert.ok(rustc.every((spawn) => spawn.runner === "worker"), "every rustc in a worker");
          }
        });

        let edited = "";
        await t.step(
          `${mode}: a one-line edit reuses at least 95% of the crate's objects`,
          async () => {
            edit();
            const spawns = await build([...flags, ...CLIPPY_AND_RUSTFMT]);
            assert.ok(spawns.some((spawn) => spawn.mnemonic === "Rustc"));
            const reuse = sessionReuse(shapesState());
            console.log(`   ${mode}: ${reuse.reused} of ${reuse.objects} objects reused`);
            assert.ok(reuse.objects >= 40, JSON.stringify(reuse));
            assert.ok(reuse.reused >= reuse.objects * 0.95, JSON.stringify(reuse));
            edited = await program();
          },
        );

        await t.step(`${mode}: a rebuild with no change runs no action`, async () => {
          assert.deepEqual(await build([...flags, ...CLIPPY_AND_RUSTFMT]), []);
        });

        if (mode.includes("workers")) {
          await t.step(`${mode}: one worker process serves every crate`, async () => {
            const served = await requestsPerWorker(`${runner.home}/bazel-root`);
            console.log(`   requests served per worker process: ${JSON.stringify(served)}`);
            assert.equal(Object.keys(served).length, 1, JSON.stringify(served));
          });

          await t.step(
            `${mode}: the worker killed while the edited crate's rustc runs, then a build ` +
              "succeeds",
            async () => {
              edit();
              const building = build(flags).then(() => "built", (error) => `${error}`);
              const rustc = await processWhile(
                (argv) => argv.some((arg) => arg.endsWith("/bin/chain/shapes/out")),
                building,
              );
              assert.ok(rustc !== undefined, "the crate's rustc ran");
              const worker = parentOf(rustc);
              assert.ok(
                Deno.readTextFileSync(`/proc/${worker}/cmdline`).includes("--persistent_worker"),
              );
              Deno.kill(worker, "SIGKILL");
              console.log(`   the build with its worker killed: ${(await building).slice(0, 60)}`);
              await build(flags);
              assert.ok(sessionReuse(shapesState()).sessions >= 1);
              edited = await program(); // Checked against incremental=false next.
            },
          );
        }

        await t.step(`${mode}: the program is the one incremental=false builds`, async () => {
          await build(OFF);
          assert.equal(await program(), edited);
        });

        await t.step(`${mode}: bazel clean, then a build succeeds`, async () => {
          await bazel(runner, ["clean"]);
          await build(flags);
          assert.equal(await program(), edited);
        });
      }

      await t.step(
        "tree mode: a seed remade under an unchanged compile does not rerun it (the seed is " +
          "in its unused_inputs_list)",
        async () => {
          const tree = MODES["tree (PR 3925)"];
          await build(tree);
          const list = `${ws}/bazel-bin/chain/_incremental/shapes.unused_inputs`;
          const seed = "bazel-out/k8-fastbuild/bin/chain/_incremental/shapes.seed";
          assert.equal(Deno.readTextFileSync(list), `${seed}\n`);
          // A new server forgets what it built: the action cache decides. The seed action runs
          // again (its tree is gone) and copies the newer state; the compile, whose only changed
          // input is that seed, must not.
          await bazel(runner, ["shutdown"]);
          const writable = await run("chmod", ["-R", "u+w", `${ws}/bazel-out/../${seed}`]);
          assert.equal(writable.code, 0, writable.stderr);
          const removed = await run("rm", ["-rf", `${ws}/bazel-out/../${seed}`]);
          assert.equal(removed.code, 0, removed.stderr);
          const spawns = await build(tree);
          assert.deepEqual(
            spawns.map((spawn) => `${spawn.mnemonic} ${spawn.listedOutputs?.[0]}`),
            [`RustcIncrSeed ${seed}`],
          );
        },
      );

      await t.step(
        "tree mode: a seed below the threshold is skipped, rustc starts cold",
        async () => {
          edit();
          await build([...MODES["tree (PR 3925)"], `${SETTINGS}:incremental_seed_threshold_mb=20`]);
          const seed = `${ws}/bazel-bin/chain/_incremental/shapes.seed`;
          assert.deepEqual([...Deno.readDirSync(seed)], []);
          const reuse = sessionReuse(`${ws}/bazel-bin/chain/_incremental/shapes`);
          assert.deepEqual([reuse.sessions, reuse.reused], [1, 0]);
          assert.ok(reuse.objects > 0);
        },
      );

      await t.step(
        "pipelining switched off: each crate's .rmeta, read-only from a pipelined build, is " +
          "an output again (rustc refuses to run beside it unsandboxed)",
        async () => {
          for (const flags of [STORE, MODES["store + persistent workers"], OFF]) {
            await build([...flags, `${SETTINGS}:pipelined_compilation=false`]);
            await build([...flags, `${SETTINGS}:pipelined_compilation=true`]);
          }
          await build([
            ...MODES["store + persistent workers"],
            `${SETTINGS}:incremental=false`,
            `${SETTINGS}:pipelined_compilation=false`,
          ]);
          await program();
        },
      );

      await t.step("-c opt: no action gets incremental state", async () => {
        const spawns = await build([...STORE, "-c", "opt"]);
        const rustc = spawns.filter((spawn) => spawn.mnemonic === "Rustc");
        assert.ok(rustc.length >= INCREMENTAL_OUTPUTS.length, `${rustc.length} compiles`);
        assert.deepEqual(rustc.filter((spawn) => isIncremental(ws, spawn)), []);
      });

      await t.step("the store lives in the output base: clean --expunge removes it", async () => {
        const store = `${outputBase(runner)}/deno_process_wrapper/incremental`;
        assert.ok(Deno.statSync(store).isDirectory);
        await bazel(runner, ["clean", "--expunge"]);
        assert.throws(() => Deno.statSync(store), Deno.errors.NotFound);
      });
    } finally {
      await bazelCommand(runner, ["shutdown"]).output();
    }
  },
});

/** Runs one Bazel command other than a build; throws with Bazel's output when it fails. */
async function bazel(runner: BazelRunner, args: readonly string[]): Promise<void> {
  const output = await bazelCommand(runner, args).output();
  if (output.code !== 0) {
    throw new Error(`bazel ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`);
  }
}

/**
 * Whether a spawn gives rustc incremental state: `--incremental-store` or `-Cincremental`,
 * on its command line or in the param files it names (a worker's arguments are all in them).
 */
function isIncremental(ws: string, spawn: Spawn): boolean {
  const words = spawn.commandArgs.flatMap((arg) =>
    arg.startsWith("@") ? Deno.readTextFileSync(`${ws}/bazel-out/../${arg.slice(1)}`) : arg
  );
  return words.some((word) => /--incremental-store|incremental=|--copy-seed/.test(word));
}

/** Polls `/proc` until a process whose argv `matches` runs (its pid), or `done` settles. */
async function processWhile(
  matches: (argv: string[]) => boolean,
  done: Promise<unknown>,
): Promise<number | undefined> {
  let finished = false;
  done.finally(() => finished = true);
  while (!finished) {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        if (matches(Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0"))) {
          return Number(entry.name);
        }
      } catch {
        // The process ended meanwhile.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return undefined;
}

/** The parent of process `pid`. */
function parentOf(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^PPid:\s+(\d+)$/m.exec(status)![1]);
}

/** Counts, per worker pid, the requests it logged (`process wrapper worker <pid>: request ...`). */
async function requestsPerWorker(outputUserRoot: string): Promise<Record<string, number>> {
  const logs = await run("sh", ["-c", `cat ${outputUserRoot}/*/bazel-workers/*-Rustc.log`]);
  const served: Record<string, number> = {};
  for (const [, pid] of logs.stdout.matchAll(/process wrapper worker (\d+): request/g)) {
    served[pid] = (served[pid] ?? 0) + 1;
  }
  return served;
}

if (missing !== undefined) {
  console.log(`skipped: real rules_rust incremental end to end needs ${missing}`);
}
