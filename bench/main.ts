/**
 * `deno task bench`: measures, side by side in one run, and prints a table
 * (raw numbers go to `bench/results/latest.json`):
 *
 * 1. wrapper overhead per action: `main.ts -- /bin/true` against `deno run`
 *    of an empty script and against `/bin/true` (medians);
 * 2. a persistent worker's cost per request against a one-shot process;
 * 3. the incremental payoff on a generated ~40k-line crate, one-shot and
 *    through a persistent worker;
 * 4. seeding throughput: 1k/10k/100k-file trees and a real rustc
 *    incremental directory, the wrapper against `cp -al`;
 * 5. JSON diagnostics throughput and peak memory;
 * 6. the edit loop under the real Bazel (`bazel_edit_loop.ts`): a chain of
 *    five crates, every mode against incremental=false, cargo and plain rustc.
 *
 * `BENCH_QUICK=1` runs smaller sizes (for a smoke run) and writes its raw
 * numbers to `bench/results/quick.json` (not committed), so a quick run never
 * overwrites the committed results. `BENCH_RESULTS=FILE` writes them to FILE.
 *
 * @module
 */

import { editOneFunction, writeCrate } from "../fixtures/gen_crate.ts";
import { compileActionArgs, seedActionArgs } from "../fixtures/pr3925_args.ts";
import { listTree } from "../mod/seed/mod.ts";
import { jsonObjects } from "../mod/worker/mod.ts";
import { bazelEditLoop } from "./bazel_edit_loop.ts";
import { WorkerClient } from "./worker_client.ts";

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;
const QUICK = Deno.env.get("BENCH_QUICK") === "1";
const RESULTS = Deno.env.get("BENCH_RESULTS") ??
  new URL(QUICK ? "./results/quick.json" : "./results/latest.json", import.meta.url).pathname;
const PATH = `${Deno.env.get("PATH")}:${Deno.env.get("HOME")}/.cargo/bin`;
const results: Record<string, unknown> = {
  deno: Deno.version.deno,
  date: new Date().toISOString(),
  machine: `${Deno.build.target}, ${navigator.hardwareConcurrency} cores, ${
    Math.round(Deno.systemMemoryInfo().total / 2 ** 30)
  } GiB`,
  quick: QUICK,
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function timeCommand(command: string, args: string[], cwd?: string): Promise<number> {
  const started = performance.now();
  const { code, stderr } = await new Deno.Command(command, {
    args,
    cwd,
    env: { PATH },
    stdout: "null",
    stderr: "piped",
  })
    .output();
  const elapsed = performance.now() - started;
  if (code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")}: exit ${code}\n${new TextDecoder().decode(stderr)}`,
    );
  }
  return elapsed;
}

const wrapperArgs = (args: string[]) => ["run", "--quiet", "-A", MAIN_TS, ...args];

async function overhead(): Promise<void> {
  const runs = QUICK ? 10 : 30;
  const empty = await Deno.makeTempFile({ suffix: ".ts" });
  // Any Deno program that runs a child pays for the first spawn (~5 ms of lazy runtime set-up).
  const spawner = await Deno.makeTempFile({ suffix: ".ts" });
  Deno.writeTextFileSync(spawner, 'await new Deno.Command("/bin/true").output();\n');
  // The same program as one file: how much of the wrapper's cost is loading its modules.
  const bundle = await Deno.makeTempFile({ suffix: ".js" });
  const bundled = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", MAIN_TS, "-o", bundle],
    stdout: "null",
    stderr: "null",
  }).output();
  const samples: Record<string, number[]> = {
    "/bin/true": [],
    "deno run empty.ts": [],
    "deno run spawn_true.ts": [],
    "main.ts -- /bin/true": [],
    ...(bundled.success ? { "bundled main.ts -- /bin/true": [] } : {}),
  };
  // Interleaved so that machine noise hits all three alike.
  for (let i = 0; i < runs; i++) {
    samples["/bin/true"].push(await timeCommand("/bin/true", []));
    samples["deno run empty.ts"].push(
      await timeCommand(Deno.execPath(), ["run", "--quiet", "-A", empty]),
    );
    samples["deno run spawn_true.ts"].push(
      await timeCommand(Deno.execPath(), ["run", "--quiet", "-A", spawner]),
    );
    samples["main.ts -- /bin/true"].push(
      await timeCommand(Deno.execPath(), wrapperArgs(["--", "/bin/true"])),
    );
    samples["bundled main.ts -- /bin/true"]?.push(
      await timeCommand(Deno.execPath(), ["run", "--quiet", "-A", bundle, "--", "/bin/true"]),
    );
  }
  await Deno.remove(bundle);
  await Deno.remove(empty);
  await Deno.remove(spawner);
  // What the first use of Deno.Command costs inside a process (its module is loaded lazily).
  const commandLoad = await Deno.makeTempFile({ suffix: ".ts" });
  Deno.writeTextFileSync(
    commandLoad,
    "const t = performance.now(); Deno.Command; console.log(performance.now() - t);\n",
  );
  const commandLoadMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const { stdout } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "-A", commandLoad],
      stderr: "inherit",
    }).output();
    commandLoadMs.push(Number(new TextDecoder().decode(stdout)));
  }
  await Deno.remove(commandLoad);
  const medians = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  results.overhead = {
    runs,
    medians_ms: medians,
    samples_ms: samples,
    first_deno_command_access_ms: commandLoadMs,
  };
  console.log(`\n1. Wrapper overhead per action (median of ${runs})`);
  for (const [name, ms] of Object.entries(medians)) {
    console.log(`   ${name.padEnd(30)} ${ms.toFixed(1)} ms`);
  }
  const added = medians["main.ts -- /bin/true"] - medians["deno run empty.ts"];
  console.log(`   wrapper over deno's own start-up: ${added.toFixed(1)} ms (target <= 3 ms)`);
  const overSpawn = medians["main.ts -- /bin/true"] - medians["deno run spawn_true.ts"];
  console.log(`   wrapper over a deno script that spawns the child: ${overSpawn.toFixed(1)} ms`);
  console.log(
    `   of Deno's own spawn cost, first access to Deno.Command (lazy module load): ${
      median(commandLoadMs).toFixed(1)
    } ms`,
  );
}

async function workerOverhead(): Promise<void> {
  const requests = QUICK ? 100 : 300;
  const floor: number[] = [];
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    await new Deno.Command("/bin/true", { stdin: "null", stdout: "piped", stderr: "piped" })
      .output();
    floor.push(performance.now() - started);
  }
  const perRequest: number[] = [];
  {
    await using worker = WorkerClient.start(MAIN_TS, Deno.cwd(), { PATH });
    for (let i = 0; i < requests; i++) {
      const response = await worker.request(["--", "/bin/true"]);
      if (response.exitCode !== 0) throw new Error(`worker request failed: ${response.output}`);
      perRequest.push(response.milliseconds);
    }
  }
  const oneShot = (results.overhead as { medians_ms: Record<string, number> })
    .medians_ms["main.ts -- /bin/true"];
  const [w, f] = [median(perRequest), median(floor)];
  results.worker = { requests, per_request_ms: perRequest, spawn_floor_ms: floor };
  console.log(`\n2. Persistent worker, \`-- /bin/true\` per request (median of ${requests})`);
  console.log(`   one-shot wrapper process        ${oneShot.toFixed(2)} ms`);
  console.log(`   worker request (round trip)     ${w.toFixed(2)} ms (target < 1.5 ms)`);
  console.log(`   of which Deno spawning the child ${f.toFixed(2)} ms (in-process floor)`);
  console.log(`   one-shot / worker: ${(oneShot / w).toFixed(1)}x`);
  const parse = await requestParseMilliseconds(40);
  results.worker = { ...results.worker as object, parse_40_mib_request_ms: parse };
  console.log(
    `   finding a 40 MiB request in 64 KiB reads: ${parse.toFixed(0)} ms (target < 1000 ms)`,
  );
}

/** How long the worker takes to find one request of `mib` MiB arriving in 64 KiB reads. */
async function requestParseMilliseconds(mib: number): Promise<number> {
  const text = JSON.stringify({ arguments: ["--", "x".repeat(mib << 20)], requestId: 1 });
  const bytes = new TextEncoder().encode(text);
  const reads: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += 65536) reads.push(bytes.subarray(at, at + 65536));
  const started = performance.now();
  const found = await Array.fromAsync(jsonObjects(ReadableStream.from(reads)));
  const elapsed = performance.now() - started;
  if (found.length !== 1 || found[0].length !== text.length) throw new Error("request not found");
  return elapsed;
}

function makeFlatTree(root: string, files: number): void {
  const perDir = 1000;
  for (let i = 0; i < files; i++) {
    const dir = `${root}/d${Math.floor(i / perDir)}`;
    if (i % perDir === 0) Deno.mkdirSync(dir, { recursive: true });
    Deno.writeFileSync(`${dir}/f${i}.bin`, new Uint8Array(100));
  }
}

/** A copy of a rustc incremental directory holding only each crate's newest finished session. */
async function copyNewestSessions(incr: string, copy: string): Promise<void> {
  const { code } = await new Deno.Command("cp", { args: ["-a", incr, copy] }).output();
  if (code !== 0) throw new Error(`cp -a ${incr} ${copy} failed`);
  for (const crate of Deno.readDirSync(copy)) {
    if (!crate.isDirectory) continue; // the wrapper's record of where the state was made
    const crateDir = `${copy}/${crate.name}`;
    const sessions = [...Deno.readDirSync(crateDir)]
      .filter((entry) => entry.isDirectory && !entry.name.endsWith("-working"))
      .map((entry) => entry.name).sort();
    for (const older of sessions.slice(0, -1)) {
      Deno.removeSync(`${crateDir}/${older}`, { recursive: true });
      // The lock is named after the session without its final "-<hash>".
      Deno.removeSync(`${crateDir}/${older.slice(0, older.lastIndexOf("-"))}.lock`);
    }
  }
}

async function seedThroughput(rustcIncr: string): Promise<void> {
  const sizes = QUICK ? [1000, 10000] : [1000, 10000, 100000];
  const rows: Record<string, unknown>[] = [];
  console.log("\n4. Seeding throughput (files/s; wrapper includes its process start)");
  console.log(
    "   tree             files   wrapper     in-process  cp -al      wrapper/cp (paired median)",
  );
  const trees: [string, string, number][] = [];
  const base = await Deno.makeTempDir({ prefix: "pw-bench-seed-" });
  for (const size of sizes) {
    makeFlatTree(`${base}/t${size}`, size);
    trees.push([`${size} files`, `${base}/t${size}`, size]);
  }
  // The wrapper seeds only each crate's newest finished session: time both tools on just that.
  const newestSessions = `${base}/rustc-incr-newest`;
  await copyNewestSessions(rustcIncr, newestSessions);
  trees.push(["rustc incr dir", newestSessions, listTree(newestSessions).files.length]);
  for (const [name, tree, files] of trees) {
    const reps = files >= 100000 ? 3 : 9;
    const wrapper: number[] = [];
    const inProcess: number[] = [];
    const cp: number[] = [];
    for (let r = 0; r < reps; r++) {
      const dest = `${base}/dest`;
      wrapper.push(
        await timeCommand(
          Deno.execPath(),
          wrapperArgs([
            "--copy-seed",
            tree,
            dest,
            "--seed-min-mb",
            "0",
            "--seed-report",
            `${base}/r.json`,
            "--exit-early",
            "true",
          ]),
        ),
      );
      const report = JSON.parse(Deno.readTextFileSync(`${base}/r.json`));
      // files/s divides by what was seeded: the listing must be exactly that.
      if (report.files !== files) {
        throw new Error(`${name}: the wrapper seeded ${report.files} of ${files} files`);
      }
      inProcess.push(report.milliseconds);
      await Deno.remove(dest, { recursive: true });
      cp.push(await timeCommand("cp", ["-al", tree, dest]));
      await Deno.remove(dest, { recursive: true });
    }
    const [w, p, c] = [median(wrapper), median(inProcess), median(cp)];
    // Each wrapper run is paired with the `cp -al` run right after it.
    const timeRatio = median(wrapper.map((ms, r) => ms / cp[r]));
    const rate = (ms: number) => `${Math.round(files / (ms / 1000))}/s`.padEnd(12);
    console.log(
      `   ${name.padEnd(16)} ${String(files).padEnd(7)} ${rate(w)}${rate(p)}${rate(c)}${
        timeRatio.toFixed(2)
      }x time`,
    );
    rows.push({
      tree: name,
      files,
      wrapper_ms: w,
      in_process_ms: p,
      cp_al_ms: c,
      paired_median_wrapper_over_cp: timeRatio,
      samples: { wrapper, inProcess, cp },
    });
  }
  results.seeding = rows;
  await Deno.remove(base, { recursive: true });
}

async function jsonThroughput(): Promise<void> {
  console.log("\n5. JSON diagnostics throughput (--rustc-output-format rendered)");
  const dir = await Deno.makeTempDir({ prefix: "pw-bench-json-" });
  const rows: Record<string, unknown>[] = [];
  // Every line distinct (as a real build's are), made by the child as it writes them.
  const child = `${dir}/child.sh`;
  Deno.writeTextFileSync(
    child,
    `#!/bin/sh
awk -v n="$1" 'BEGIN {
  for (i = 0; i < n; i++) {
    if (i % 4 == 0) printf "{\\"$message_type\\":\\"artifact\\",\\"artifact\\":\\"lib%d.rmeta\\",\\"emit\\":\\"metadata\\"}\\n", i
    else printf "{\\"$message_type\\":\\"diagnostic\\",\\"level\\":\\"warning\\",\\"message\\":\\"w%d\\",\\"rendered\\":\\"warning: unused variable %d\\\\n\\"}\\n", i, i
  }
}' 1>&2
`,
    { mode: 0o755 },
  );
  for (const lines of QUICK ? [20000, 80000] : [50000, 200000, 800000, 3200000]) {
    const started = performance.now();
    const { code, stderr } = await new Deno.Command("/usr/bin/time", {
      args: [
        "-f",
        "%M",
        Deno.execPath(),
        ...wrapperArgs([
          "--rustc-output-format",
          "rendered",
          "--stderr-file",
          `${dir}/out.txt`,
          "--",
          child,
          String(lines),
        ]),
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    const ms = performance.now() - started;
    if (code !== 0) throw new Error(`json bench exit ${code}`);
    const peakKb = Number(new TextDecoder().decode(stderr).trim().split("\n").at(-1));
    console.log(
      `   ${String(lines).padEnd(8)} lines: ${Math.round(lines / (ms / 1000))} lines/s, peak RSS ${
        (peakKb / 1024).toFixed(1)
      } MiB`,
    );
    rows.push({ lines, ms, peak_rss_kib: peakKb });
  }
  results.json = rows;
  await Deno.remove(dir, { recursive: true });
}

async function incrementalPayoff(work: string): Promise<string> {
  const shape = QUICK
    ? { modules: 8, functionsPerModule: 80 }
    : { modules: 20, functionsPerModule: 160 };
  const lines = writeCrate(`${work}/src`, shape);
  const rustc = (incr: string | undefined) => [
    "rustc",
    "--crate-type=rlib",
    "--crate-name=payoff",
    "src/lib.rs",
    "--emit=link",
    "--out-dir=out",
    ...(incr ? [`-Cincremental=${incr}`] : []),
  ];
  const build = (args: string[]) => timeCommand(Deno.execPath(), wrapperArgs(args), work);
  const sh = (c: string) => new Deno.Command("sh", { args: ["-c", c], cwd: work }).output();
  const reps = QUICK ? 1 : 9;
  const a: number[] = [], b: number[] = [], c: number[] = [], d: number[] = [];
  await build(["--", ...rustc("persistent")]);
  await build(["--", ...rustc("incr")]);
  await using worker = WorkerClient.start(MAIN_TS, work, { PATH });
  const viaWorker = async (args: string[]) => {
    const response = await worker.request(args);
    if (response.exitCode !== 0) throw new Error(`worker: ${response.output}`);
    return response.milliseconds;
  };
  for (let r = 0; r < reps; r++) {
    editOneFunction(`${work}/src`, 10 + r);
    a.push(await build(["--", ...rustc(undefined)]));
    b.push(await build(["--", ...rustc("persistent")]));
    await sh("find incr -type f -exec chmod a-w {} +; rm -rf seed");
    // Threshold 0: this measures seeding itself, whatever the crate's size.
    const seed = await build(seedActionArgs("incr", "seed", 0));
    await sh("find seed -type f -exec chmod a-w {} +; rm -rf incr");
    const compile = await build([
      ...compileActionArgs("seed", "incr", "unused.txt", 0),
      "--",
      ...rustc("incr"),
    ]);
    c.push(seed + compile);
    // (d): the same two actions as requests to a persistent worker, on the next edit.
    editOneFunction(`${work}/src`, 100 + r);
    await sh("find incr -type f -exec chmod a-w {} +; rm -rf seed");
    const workerSeed = await viaWorker(seedActionArgs("incr", "seed", 0));
    await sh("find seed -type f -exec chmod a-w {} +; rm -rf incr");
    d.push(
      workerSeed +
        await viaWorker([
          ...compileActionArgs("seed", "incr", "unused.txt", 0),
          "--",
          ...rustc("incr"),
        ]),
    );
    b.push(await build(["--", ...rustc("persistent")]));
  }
  const [ma, mb, mc, md] = [median(a), median(b), median(c), median(d)];
  // Each (c) and (d) build has its own (b) of the same edit, run next to it: paired ratios
  // cancel the machine's drift between edits.
  const cOverB = median(c.map((ms, r) => ms / b[2 * r]));
  const dOverB = median(d.map((ms, r) => ms / b[2 * r + 1]));
  results.payoff = {
    lines,
    no_incremental_ms: a,
    persistent_ms: b,
    seeded_ms: c,
    seeded_worker_ms: d,
    paired_median_c_over_b: cOverB,
    paired_median_d_over_b: dOverB,
  };
  console.log(`\n3. Incremental payoff: ${lines}-line crate, one-line edit (median of ${reps})`);
  console.log(`   (a) no incremental             ${ma.toFixed(0)} ms`);
  console.log(
    `   (b) persistent incr dir        ${mb.toFixed(0)} ms   (b)/(a) = ${(mb / ma).toFixed(2)}`,
  );
  console.log(
    `   (c) seed step + compile step   ${mc.toFixed(0)} ms   (c)/(b) = ${
      cOverB.toFixed(3)
    } (median of paired ratios; target <= 1.05)`,
  );
  console.log(
    `   (d) (c) in a persistent worker ${md.toFixed(0)} ms   (d)/(b) = ${dOverB.toFixed(3)}`,
  );
  return `${work}/incr`;
}

const payoffDir = await Deno.makeTempDir({ prefix: "pw-bench-payoff-" });
try {
  await overhead();
  await workerOverhead();
  const incr = await incrementalPayoff(payoffDir);
  await seedThroughput(incr);
  await jsonThroughput();
  console.log("\n6. The edit loop under Bazel: one-line edit in the big crate of a chain");
  const editLoopDir = await Deno.makeTempDir({ prefix: "pw-bench-bazel-" });
  try {
    results.bazel_edit_loop = await bazelEditLoop(editLoopDir, QUICK);
  } finally {
    await new Deno.Command("sh", {
      args: ["-c", `chmod -R u+w '${editLoopDir}'; rm -rf '${editLoopDir}'`],
    }).output();
  }
  Deno.mkdirSync(RESULTS.slice(0, RESULTS.lastIndexOf("/")) || "/", { recursive: true });
  Deno.writeTextFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
  console.log(`\nraw numbers: ${RESULTS}`);
} finally {
  await new Deno.Command("sh", {
    args: ["-c", `chmod -R u+w '${payoffDir}'; rm -rf '${payoffDir}'`],
  }).output();
}
