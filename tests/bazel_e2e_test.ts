/**
 * End to end under a real Bazel (Debian's bazel-bootstrap 4.2.3, installed
 * with apt when missing): the e2e workspace (`e2e/workspace`) builds three
 * crates through `rust_incremental/defs.bzl` and the from-source wrapper
 * target, as the unprivileged user `nobody` when the tests run as root, so
 * that Bazel's read-only output tree bites as it does for a real user.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { editOneFunction, writeCrate } from "../fixtures/gen_crate.ts";
import { sessionReuse } from "../fixtures/rustc_reuse.ts";
import { run, RUSTC, tempDir, which } from "./helpers.ts";
import { canRunUnprivileged, NOBODY, prepareUnprivileged } from "./unprivileged.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));
/** What a consuming workspace needs of this repository. */
const WRAPPER_FILES = [
  "main.ts",
  "deno.json",
  "mod",
  "BUILD.bazel",
  "WORKSPACE",
  "tools",
  "rust_incremental",
];
const BUILD_TIMEOUT_MS = 120_000;
const INCREMENTAL = [
  "--//settings:incremental=true",
  "--//settings:incremental_seed_threshold_mb=0",
];

/** One spawn from Bazel's `--execution_log_json_file`. */
interface Spawn {
  commandArgs: string[];
  mnemonic: string;
  runner: string;
  listedOutputs?: string[];
}

function parseExecutionLog(text: string): Spawn[] {
  // Bazel writes one pretty-printed JSON object per spawn, back to back.
  return text.trim() === "" ? [] : JSON.parse(`[${text.replaceAll("\n}{\n", "\n},{\n")}]`);
}

const count = (spawns: Spawn[], mnemonic: string) =>
  spawns.filter((spawn) => spawn.mnemonic === mnemonic).length;

async function ensureBazel(): Promise<string> {
  const found = which("bazel");
  if (found) return found;
  console.log("bazel is missing: installing Debian's bazel-bootstrap with apt");
  for (const args of [["update"], ["install", "-y", "bazel-bootstrap"]]) {
    const result = await run("apt-get", args, {
      env: { DEBIAN_FRONTEND: "noninteractive", PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    if (result.code !== 0) throw new Error(`apt-get ${args.join(" ")}: ${result.stderr}`);
  }
  return which("bazel", ["/usr/bin"]) ?? "/usr/bin/bazel";
}

Deno.test({
  name: "Bazel end to end: incremental Rust through the wrapper",
  ignore: RUSTC === undefined,
  async fn(t) {
    const bazelPath = await ensureBazel();
    await using dir = await tempDir("pw-e2e-");
    const root = dir.path;
    let rustc = RUSTC!;
    let deno = Deno.execPath();
    const asNobody = canRunUnprivileged;
    if (asNobody) {
      const nobody = await prepareUnprivileged(root);
      rustc = nobody.rustc;
      deno = `${root}/deno`;
    } else {
      Deno.mkdirSync(`${root}/home`);
      Deno.mkdirSync(`${root}/wrapper`);
    }
    for (const name of WRAPPER_FILES) {
      await run("cp", ["-r", `${REPO}/${name}`, `${root}/wrapper/`]);
    }
    const ws = `${root}/ws`;
    await run("cp", ["-r", `${REPO}/e2e/workspace`, ws]);
    writeCrate(`${ws}/shapes`, { modules: 8, functionsPerModule: 20 });
    Deno.writeTextFileSync(
      `${ws}/WORKSPACE`,
      Deno.readTextFileSync(`${ws}/WORKSPACE.template`)
        .replace("@@WRAPPER@@", `${root}/wrapper`)
        .replace("@@DENO@@", deno)
        .replace("@@RUSTC@@", rustc),
    );
    if (asNobody) await run("chown", ["-R", `${NOBODY}:${NOBODY}`, ws, `${root}/home`]);
    const user = asNobody ? "nobody" : (Deno.env.get("USER") ?? "");

    const home = `${root}/home`;
    const command = (args: string[]) => {
      const bazel = [bazelPath, `--output_user_root=${home}/bazel-root`, ...args];
      return new Deno.Command(asNobody ? "setpriv" : bazel[0], {
        args: asNobody
          ? [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, "--clear-groups", "--", ...bazel]
          : bazel.slice(1),
        cwd: ws,
        clearEnv: true,
        env: { HOME: home, PATH: "/usr/bin:/bin", USER: user },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        // A hung build fails the test instead of hanging it.
        signal: AbortSignal.timeout(BUILD_TIMEOUT_MS),
      });
    };
    let logs = 0;
    /** Builds everything; returns the spawns Bazel ran. */
    const build = async (...flags: string[]): Promise<Spawn[]> => {
      const log = `${home}/exec-${++logs}.json`;
      const output = await command([
        "build",
        "//...",
        "--curses=no",
        `--execution_log_json_file=${log}`,
        ...flags,
      ]).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assert.deepEqual(output.code, 0, stderr);
      return parseExecutionLog(Deno.readTextFileSync(log));
    };
    const app = async () => {
      const result = await run(`${ws}/bazel-bin/app/app`, []);
      assert.deepEqual(result.code, 0, result.stderr);
      return result.stdout;
    };
    const shapesIncr = `${ws}/bazel-bin/shapes/shapes.incr`;
    let edits = 0;
    const edit = () => editOneFunction(`${ws}/shapes`, 100 + ++edits);

    try {
      let coldOutput = "";
      await t.step("1. a cold incremental build succeeds and the binary prints", async () => {
        const spawns = await build(...INCREMENTAL);
        assert.deepEqual(count(spawns, "Rustc"), 3);
        assert.deepEqual(count(spawns, "RustcMetadata"), 2);
        coldOutput = await app();
        assert.ok(
          /^hello bazel: total \d+ \(arg file\)\nshapes again: \d+\nbuilt by .+\n$/.test(
            coldOutput,
          ),
          coldOutput,
        );
        assert.ok(coldOutput.endsWith(`built by ${user}\n`), coldOutput);
        assert.deepEqual(sessionReuse(shapesIncr).sessions, 1);
      });

      await t.step(
        "2. after a one-line edit, seed + compile run and rustc reuses the cache",
        async () => {
          edit();
          const spawns = await build(...INCREMENTAL);
          assert.deepEqual(count(spawns, "RustcIncrSeed"), 3);
          assert.deepEqual(count(spawns, "Rustc"), 3);
          for (const spawn of spawns.filter((s) => s.mnemonic === "Rustc")) {
            assert.deepEqual(spawn.runner, "local", "the incremental compile runs unsandboxed");
          }
          const reuse = sessionReuse(shapesIncr);
          console.log(
            `   shapes after an edit: ${reuse.reused} of ${reuse.objects} objects reused`,
          );
          assert.ok(reuse.reused > reuse.objects / 2, JSON.stringify(reuse));
          assert.ok((await app()) !== coldOutput, "the edit changed the program");
        },
      );

      await t.step(
        "3. a rebuild with no change runs no action (the seed is an unused input)",
        async () => {
          assert.deepEqual(await build(...INCREMENTAL), []);
        },
      );

      await t.step(
        "4. a seed below the threshold is skipped; rustc still writes state",
        async () => {
          edit();
          const spawns = await build("--//settings:incremental=true"); // default 20 MiB
          assert.deepEqual(count(spawns, "RustcIncrSeed"), 3);
          const seeded =
            (await run("find", [`${ws}/bazel-bin/shapes/shapes.incr_seed`, "-type", "f"]))
              .stdout;
          assert.deepEqual(seeded, "");
          const reuse = sessionReuse(shapesIncr);
          assert.deepEqual([reuse.sessions, reuse.reused], [1, 0]);
          assert.ok(reuse.objects > 0);
        },
      );

      await t.step(
        "5. killing the build during a seed action, then building again, works",
        async () => {
          edit();
          const child = command(["build", "//...", "--curses=no", ...INCREMENTAL]).spawn();
          // Its command line is `process_wrapper @<seed tree>-0.params`.
          const seen = await waitForProcess(".incr_seed", child.status);
          assert.ok(seen, "a seed action was running");
          child.kill("SIGINT");
          const interrupted = await child.output();
          assert.ok(interrupted.code !== 0, "the build was interrupted");
          await build(...INCREMENTAL);
          assert.ok(/^hello bazel: total \d+/.test(await app()));
        },
      );

      let sandboxedOutput = "";
      await t.step(
        "6. sandboxed, the compile seeds but rustc reuses nothing (documented)",
        async () => {
          edit();
          const spawns = await build(...INCREMENTAL, "--//settings:incremental_sandboxed=true");
          const runners = spawns.filter((s) => s.mnemonic === "Rustc").map((s) => s.runner);
          assert.ok(runners.every((runner) => runner.includes("sandbox")), runners.join());
          const reuse = sessionReuse(shapesIncr);
          console.log(`   sandboxed: ${reuse.reused} of ${reuse.objects} objects reused`);
          assert.deepEqual(reuse.reused, 0);
          sandboxedOutput = await app();
        },
      );

      await t.step(
        "7. incremental=false: same program, no incremental trees, no seeds",
        async () => {
          const spawns = await build("--//settings:incremental=false");
          assert.deepEqual(count(spawns, "RustcIncrSeed"), 0);
          assert.deepEqual(count(spawns, "Rustc"), 3);
          for (const spawn of spawns) {
            assert.ok(
              !spawn.commandArgs.some((arg) => arg.startsWith("-Cincremental")),
              spawn.mnemonic,
            );
            assert.ok(!(spawn.listedOutputs ?? []).some((path) => /\.(meta_)?incr/.test(path)));
          }
          assert.deepEqual(await app(), sandboxedOutput);
        },
      );

      await t.step(
        "8. persistent workers: same program, workers reused, rebuilds still seed",
        async () => {
          const workers = [
            ...INCREMENTAL,
            "--//settings:persistent_worker=true",
            "--experimental_worker_allow_json_protocol",
            "--strategy=Rustc=worker",
            "--strategy=RustcIncrSeed=worker",
          ];
          // The first worker build starts from a session the sandboxed build left,
          // made in another working directory: rustc discards it, as it should.
          edit();
          await build(...workers);
          edit();
          const spawns = await build(...workers);
          for (const mnemonic of ["Rustc", "RustcIncrSeed"]) {
            const runners = spawns.filter((s) => s.mnemonic === mnemonic).map((s) => s.runner);
            assert.deepEqual(runners.length, 3, mnemonic);
            assert.ok(runners.every((runner) => runner.includes("worker")), runners.join());
          }
          const reuse = sessionReuse(shapesIncr);
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
