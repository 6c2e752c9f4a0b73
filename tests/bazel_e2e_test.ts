/**
 * End to end under a real Bazel (Debian's bazel-bootstrap 4.2.3, installed
 * with apt when missing): the e2e workspace (`e2e/workspace`) builds three
 * crates through `rust_incremental/defs.bzl` and the from-source wrapper
 * target, as the unprivileged user `nobody` when the tests run as root, so
 * that Bazel's read-only output tree bites as it does for a real user.
 */

import assert from "node:assert/strict";
import {
  bazelBuild,
  bazelCommand,
  outputBase,
  prepareBazelWorkspace,
  REPO,
  type Spawn,
} from "../fixtures/bazel.ts";
import { editOneFunction, writeCrate } from "../fixtures/gen_crate.ts";
import { sessionReuse } from "../fixtures/rustc_reuse.ts";
import { run, RUSTC, sortedPaths, tempDir } from "./helpers.ts";
import { MADE_IN_FILE } from "../mod/seed/mod.ts";
import { NOBODY } from "./unprivileged.ts";

const BUILD_TIMEOUT_MS = 120_000;
/** The default incremental mode: the wrapper's store. */
const INCREMENTAL = ["--//settings:incremental=true"];
/** rules_rust PR 3925's design: seed actions and tree artifacts. */
const TREE = ["--//settings:incremental=true", "--//settings:incremental_mode=tree"];

const count = (spawns: Spawn[], mnemonic: string) =>
  spawns.filter((spawn) => spawn.mnemonic === mnemonic).length;

Deno.test({
  name: "Bazel end to end: incremental Rust through the wrapper",
  ignore: RUSTC === undefined,
  async fn(t) {
    await using dir = await tempDir("pw-e2e-");
    const runner = await prepareBazelWorkspace(dir.path, {
      timeoutMs: BUILD_TIMEOUT_MS,
      fill: async (ws) => {
        await run("cp", ["-r", `${REPO}/e2e/workspace`, ws]);
        writeCrate(`${ws}/shapes`, { modules: 8, functionsPerModule: 20 });
      },
    });
    const { workspace: ws, home, user } = runner;
    const command = (args: string[]) => bazelCommand(runner, args);
    /** Builds everything; returns the spawns Bazel ran. */
    const build = async (...flags: string[]) => (await bazelBuild(runner, flags)).spawns;
    const app = async () => {
      const result = await run(`${ws}/bazel-bin/app/app`, []);
      assert.deepEqual(result.code, 0, result.stderr);
      return result.stdout;
    };
    const shapesTree = `${ws}/bazel-bin/shapes/shapes.incr`;
    /** The shapes crate's state in the wrapper's store, under the output base. */
    const shapesStore = () =>
      `${
        outputBase(runner)
      }/deno_process_wrapper/incremental/bazel-out/k8-fastbuild/bin/shapes/shapes/incr`;
    let edits = 0;
    const edit = () => editOneFunction(`${ws}/shapes`, 100 + ++edits);

    try {
      let coldOutput = "";
      await t.step("1. a cold incremental build succeeds and the binary prints", async () => {
        const spawns = await build(...INCREMENTAL);
        assert.deepEqual(count(spawns, "Rustc"), 3);
        // One incremental rustc writes both rlib and rmeta: no metadata action.
        assert.deepEqual(count(spawns, "RustcMetadata"), 0);
        assert.deepEqual(count(spawns, "RustcIncrSeed"), 0);
        coldOutput = await app();
        assert.ok(
          /^hello bazel: total \d+ \(arg file\)\nshapes again: \d+\nbuilt by .+\n$/.test(
            coldOutput,
          ),
          coldOutput,
        );
        assert.ok(coldOutput.endsWith(`built by ${user}\n`), coldOutput);
        assert.deepEqual(sessionReuse(shapesStore()).sessions, 1);
        if (runner.asNobody) {
          assert.equal(Deno.statSync(shapesStore()).uid, NOBODY, "the wrapper ran as nobody");
        }
      });

      await t.step(
        "2. after a one-line edit, only the compiles run and rustc reuses its store",
        async () => {
          edit();
          const spawns = await build(...INCREMENTAL);
          assert.deepEqual(count(spawns, "RustcIncrSeed"), 0);
          assert.deepEqual(count(spawns, "Rustc"), 3);
          for (const spawn of spawns.filter((s) => s.mnemonic === "Rustc")) {
            assert.deepEqual(spawn.runner, "local", "the incremental compile runs unsandboxed");
          }
          const reuse = sessionReuse(shapesStore());
          console.log(
            `   store: shapes after an edit: ${reuse.reused} of ${reuse.objects} objects reused`,
          );
          assert.ok(reuse.reused > reuse.objects / 2, JSON.stringify(reuse));
          assert.ok((await app()) !== coldOutput, "the edit changed the program");
        },
      );

      await t.step(
        "3. a rebuild with no change runs no action",
        async () => {
          assert.deepEqual(await build(...INCREMENTAL), []);
        },
      );

      await t.step(
        "3b. tree mode (PR 3925): seed + compile run, rustc reuses the seeded tree, and a rebuild " +
          "with no change runs nothing (the seed is an unused input)",
        async () => {
          edit();
          await build(...TREE);
          edit();
          const spawns = await build(...TREE);
          assert.deepEqual(count(spawns, "RustcIncrSeed"), 3);
          assert.deepEqual(count(spawns, "Rustc"), 3);
          assert.deepEqual(count(spawns, "RustcMetadata"), 0);
          const reuse = sessionReuse(shapesTree);
          console.log(`   tree: shapes after an edit: ${reuse.reused} of ${reuse.objects} reused`);
          assert.ok(reuse.reused > reuse.objects / 2, JSON.stringify(reuse));
          assert.deepEqual(await build(...TREE), []);
        },
      );

      await t.step(
        "4. a seed below the threshold is skipped; rustc still writes state",
        async () => {
          edit();
          const spawns = await build(...TREE, "--//settings:incremental_seed_threshold_mb=20");
          assert.deepEqual(count(spawns, "RustcIncrSeed"), 3);
          const seeded =
            (await run("find", [`${ws}/bazel-bin/shapes/shapes.incr_seed`, "-type", "f"]))
              .stdout;
          assert.deepEqual(seeded, "");
          const reuse = sessionReuse(shapesTree);
          assert.deepEqual([reuse.sessions, reuse.reused], [1, 0]);
          assert.ok(reuse.objects > 0);
        },
      );

      await t.step(
        "5. killing the build during a seed action, then building again, works",
        async () => {
          edit();
          const child = command(["build", "//...", "--curses=no", ...TREE]).spawn();
          // Its command line is `process_wrapper @<seed tree>-0.params`.
          const seen = await waitForProcess(".incr_seed", child.status);
          assert.ok(seen, "a seed action was running");
          child.kill("SIGINT");
          const interrupted = await child.output();
          assert.ok(interrupted.code !== 0, "the build was interrupted");
          await build(...TREE);
          assert.ok(/^hello bazel: total \d+/.test(await app()));
        },
      );

      let sandboxedOutput = "";
      await t.step(
        "6. sandboxed, a seed made in another working directory is dropped: rustc runs without " +
          "-Cincremental, as incremental=false would",
        async () => {
          edit();
          const spawns = await build(...TREE, "--//settings:incremental_sandboxed=true");
          const runners = spawns.filter((s) => s.mnemonic === "Rustc").map((s) => s.runner);
          assert.ok(runners.every((runner) => runner.includes("sandbox")), runners.join());
          // rustc made no session: the tree holds only the record of the sandbox it ran in.
          assert.deepEqual(sortedPaths(shapesTree), [MADE_IN_FILE]);
          const madeIn = Deno.readTextFileSync(`${shapesTree}/${MADE_IN_FILE}`);
          console.log(`   sandboxed: no -Cincremental; the tree records ${madeIn.trim()}`);
          assert.match(madeIn, /sandbox/);
          sandboxedOutput = await app();
        },
      );

      await t.step(
        "7. incremental=false: pipelined as rules_rust, same program, no incremental state",
        async () => {
          const spawns = await build("--//settings:incremental=false");
          assert.deepEqual(count(spawns, "RustcIncrSeed"), 0);
          assert.deepEqual(count(spawns, "Rustc"), 3);
          assert.deepEqual(count(spawns, "RustcMetadata"), 2);
          for (const spawn of spawns) {
            assert.ok(
              !spawn.commandArgs.some((arg) =>
                arg.startsWith("-Cincremental") || arg === "--incremental-store"
              ),
              spawn.mnemonic,
            );
            assert.ok(!(spawn.listedOutputs ?? []).some((path) => /\.(meta_)?incr/.test(path)));
          }
          assert.deepEqual(await app(), sandboxedOutput);
          // Unsandboxed, rustc sees every file of a -Ldependency directory: the Rustc action's
          // by-product rmeta must not sit there beside the metadata action's.
          edit();
          const local = await build("--//settings:incremental=false", "--spawn_strategy=local");
          assert.deepEqual(count(local, "RustcMetadata"), 2);
          assert.ok(/^hello bazel: total \d+/.test(await app()));
        },
      );

      await t.step(
        "8. persistent workers: same program, workers reused, rebuilds still seed",
        async () => {
          const workers = [
            ...TREE,
            "--//settings:persistent_worker=true",
            "--experimental_worker_allow_json_protocol",
            "--strategy=Rustc=worker",
            "--strategy=RustcIncrSeed=worker",
          ];
          // The first worker build finds the record of the sandboxed build's directory: it
          // compiles without -Cincremental. The second starts cold in the execroot; the third
          // reuses it.
          for (let i = 0; i < 2; i++) {
            edit();
            await build(...workers);
          }
          edit();
          const spawns = await build(...workers);
          for (const mnemonic of ["Rustc", "RustcIncrSeed"]) {
            const runners = spawns.filter((s) => s.mnemonic === mnemonic).map((s) => s.runner);
            assert.deepEqual(runners.length, 3, mnemonic);
            assert.ok(runners.every((runner) => runner.includes("worker")), runners.join());
          }
          const reuse = sessionReuse(shapesTree);
          console.log(`   workers: ${reuse.reused} of ${reuse.objects} objects reused`);
          assert.ok(reuse.reused > reuse.objects / 2, JSON.stringify(reuse));
          const fromWorkers = await app();
          const served = await requestsPerWorker(`${home}/bazel-root`);
          console.log(`   requests served per worker process: ${JSON.stringify(served)}`);
          assert.ok(
            Object.values(served).some((requests) => requests >= 3),
            JSON.stringify(served),
          );
          await build("--//settings:incremental=false"); // one-shot, same sources
          assert.deepEqual(await app(), fromWorkers);
          // The store through workers: one worker request per compile, state kept.
          const storeWorkers = [...INCREMENTAL, ...workers.slice(TREE.length)];
          edit();
          await build(...storeWorkers);
          edit();
          const storeSpawns = await build(...storeWorkers);
          const runners = storeSpawns.filter((s) => s.mnemonic === "Rustc").map((s) => s.runner);
          assert.ok(runners.every((runner) => runner.includes("worker")), runners.join());
          const stored = sessionReuse(shapesStore());
          console.log(`   store in workers: ${stored.reused} of ${stored.objects} reused`);
          assert.ok(stored.reused > stored.objects / 2, JSON.stringify(stored));
        },
      );

      await t.step(
        "9. with --disk_cache, the store mode caches no incremental state; tree mode does",
        async () => {
          const growthPerEdit = async (mode: string[]) => {
            const cache = `${home}/disk-cache-${mode.length}`;
            const cached = [...mode, `--disk_cache=${cache}`];
            const size = async () =>
              Number((await run("du", ["-sk", cache])).stdout.split("\t")[0]) * 1024;
            edit();
            await build(...cached);
            const before = await size();
            edit();
            await build(...cached);
            return await size() - before;
          };
          const store = await growthPerEdit(INCREMENTAL);
          const tree = await growthPerEdit(TREE);
          console.log(`   disk cache growth per edit: store ${store} bytes, tree ${tree} bytes`);
          // The tree mode stores each crate's changed incremental files as well.
          assert.ok(store < tree, JSON.stringify({ store, tree }));
          assert.ok(/^hello bazel: total \d+/.test(await app()));
        },
      );
    } finally {
      await command(["shutdown"]).output();
    }
  },
});

/** Polls `/proc` until a process whose command line holds `marker` runs, or `done` settles. */
async function waitForProcess(marker: string, done: Promise<unknown>): Promise<boolean> {
  let finished = false;
  done.then(() => finished = true);
  while (!finished) {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        if (Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes(marker)) return true;
      } catch {
        // The process ended meanwhile.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return false;
}

/** Counts, per worker pid, the requests it logged (`process wrapper worker <pid>: request ...`). */
async function requestsPerWorker(outputUserRoot: string): Promise<Record<string, number>> {
  const logs = await run("sh", ["-c", `cat ${outputUserRoot}/*/bazel-workers/*.log`]);
  const served: Record<string, number> = {};
  for (const [, pid] of logs.stdout.matchAll(/process wrapper worker (\d+): request/g)) {
    served[pid] = (served[pid] ?? 0) + 1;
  }
  return served;
}
