/**
 * The edit loop under the real Bazel: a generated workspace of a dependency
 * chain of crates (one big), built by `rust_incremental` as `nobody`. After
 * a one-line edit in a function body of the big crate, every mode rebuilds,
 * in interleaved rounds; next to them, in the same run, two references:
 * cargo building the same crates as a workspace (with and without
 * incremental), and the same rustc invocations with persistent
 * `-Cincremental` directories outside Bazel, summed along the rebuilt chain.
 *
 * @module
 */

import {
  actionMilliseconds,
  bazelBuild,
  bazelCommand,
  prepareBazelWorkspace,
  REPO,
} from "../fixtures/bazel.ts";
import { type CrateShape, editOneFunction, writeCrate } from "../fixtures/gen_crate.ts";
import { run, RUSTC, which } from "../tests/helpers.ts";

/** One crate of the chain; each depends on the one before it. */
interface ChainCrate {
  readonly name: string;
  readonly shape: CrateShape;
}

const DEFAULT_MODE = "store (default)";

/** The modes `bazel build //...` runs in, by their flags. */
const MODES: Record<string, readonly string[]> = {
  "incremental=false": ["--//settings:incremental=false"],
  [DEFAULT_MODE]: ["--//settings:incremental=true"],
  "tree (PR 3925)": ["--//settings:incremental=true", "--//settings:incremental_mode=tree"],
  "store + workers": [
    "--//settings:incremental=true",
    "--//settings:persistent_worker=true",
    "--experimental_worker_allow_json_protocol",
    "--strategy=Rustc=worker",
  ],
};

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** The chain: two small crates, the big one, two small ones above it. */
function chain(quick: boolean): ChainCrate[] {
  const small = quick
    ? { modules: 3, functionsPerModule: 20 }
    : { modules: 6, functionsPerModule: 130 };
  const big = quick
    ? { modules: 6, functionsPerModule: 60 }
    : { modules: 24, functionsPerModule: 190 };
  return [
    { name: "base", shape: small },
    { name: "util", shape: small },
    { name: "parser", shape: big },
    { name: "engine", shape: small },
    { name: "front", shape: small },
  ];
}

/** Writes each crate into `root/<name>` and chains it to the one before. */
function writeChain(root: string, crates: readonly ChainCrate[]): number {
  let lines = 0;
  for (const [i, crate] of crates.entries()) {
    const dir = `${root}/${crate.name}`;
    lines += writeCrate(dir, crate.shape);
    const below = i === 0 ? "0" : `${crates[i - 1].name}::chained(seed)`;
    Deno.writeTextFileSync(
      `${dir}/lib.rs`,
      `\npub fn chained(seed: u64) -> u64 { total(seed).wrapping_add(${below}) }\n`,
      { append: true },
    );
  }
  return lines;
}

const MAIN_RS = (top: string) => `fn main() { println!("{}", ${top}::chained(1)); }\n`;

/** A Bazel workspace of the chain and a binary on top (its WORKSPACE is written apart). */
function writeBazelWorkspace(ws: string, crates: readonly ChainCrate[]) {
  writeChain(ws, crates);
  for (const [i, crate] of crates.entries()) {
    Deno.writeTextFileSync(
      `${ws}/${crate.name}/BUILD.bazel`,
      `load("@deno_process_wrapper//rust_incremental:defs.bzl", "rust_library")\n\n` +
        `rust_library(\n    name = "${crate.name}",\n    srcs = glob(["*.rs"]),\n` +
        `    crate_root = "lib.rs",\n    visibility = ["//visibility:public"],\n` +
        `    deps = [${i === 0 ? "" : `"//${crates[i - 1].name}"`}],\n)\n`,
    );
  }
  Deno.mkdirSync(`${ws}/app`);
  Deno.writeTextFileSync(`${ws}/app/main.rs`, MAIN_RS(crates.at(-1)!.name));
  Deno.writeTextFileSync(
    `${ws}/app/BUILD.bazel`,
    `load("@deno_process_wrapper//rust_incremental:defs.bzl", "rust_binary")\n\n` +
      `rust_binary(\n    name = "app",\n    srcs = ["main.rs"],\n    crate_root = "main.rs",\n` +
      `    deps = ["//${crates.at(-1)!.name}"],\n)\n`,
  );
  Deno.mkdirSync(`${ws}/settings`);
  Deno.copyFileSync(`${REPO}/e2e/workspace/settings/BUILD.bazel`, `${ws}/settings/BUILD.bazel`);
}

/** The same crates as a cargo workspace: path dependencies, opt-level 0, no debuginfo. */
function writeCargoWorkspace(root: string, crates: readonly ChainCrate[]) {
  writeChain(root, crates);
  for (const [i, crate] of crates.entries()) {
    Deno.writeTextFileSync(
      `${root}/${crate.name}/Cargo.toml`,
      `[package]\nname = "${crate.name}"\nversion = "0.1.0"\nedition = "2021"\n\n` +
        `[lib]\npath = "lib.rs"\n\n[dependencies]\n` +
        (i === 0 ? "" : `${crates[i - 1].name} = { path = "../${crates[i - 1].name}" }\n`),
    );
  }
  Deno.mkdirSync(`${root}/app`);
  Deno.writeTextFileSync(`${root}/app/main.rs`, MAIN_RS(crates.at(-1)!.name));
  const top = crates.at(-1)!.name;
  Deno.writeTextFileSync(
    `${root}/app/Cargo.toml`,
    `[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n\n[[bin]]\nname = "app"\npath = "main.rs"\n\n` +
      `[dependencies]\n${top} = { path = "../${top}" }\n`,
  );
  Deno.writeTextFileSync(
    `${root}/Cargo.toml`,
    `[workspace]\nresolver = "2"\nmembers = [${
      [...crates.map((c) => c.name), "app"].map((n) => `"${n}"`).join(", ")
    }]\n\n` +
      `[profile.dev]\nopt-level = 0\ndebug = 0\n`,
  );
}

async function timed(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: Record<string, string> },
) {
  const started = performance.now();
  const result = await run(command, args, options);
  if (result.code !== 0) throw new Error(`${command} ${args.join(" ")}: ${result.stderr}`);
  return performance.now() - started;
}

/** The rebuilt chain (the big crate and everything above it) with persistent incremental dirs. */
async function rustcChain(
  root: string,
  crates: readonly ChainCrate[],
  rustc: string,
  from: number,
) {
  let total = 0;
  const out = `${root}/out`;
  Deno.mkdirSync(out, { recursive: true });
  const perCrate: Record<string, number> = {};
  const step = async (name: string, args: string[]) => {
    perCrate[name] = await timed(rustc, args, { cwd: root, env: { PATH: "/usr/bin:/bin" } });
    total += perCrate[name];
  };
  for (let i = 0; i < crates.length; i++) {
    if (i < from && Deno.statSync(`${out}/lib${crates[i].name}.rlib`).isFile) continue;
    const deps = i === 0
      ? []
      : ["--extern", `${crates[i - 1].name}=${out}/lib${crates[i - 1].name}.rmeta`];
    await step(crates[i].name, [
      `${crates[i].name}/lib.rs`,
      "--crate-name",
      crates[i].name,
      "--crate-type",
      "rlib",
      "--edition",
      "2021",
      `--emit=metadata=${out}/lib${crates[i].name}.rmeta,link=${out}/lib${crates[i].name}.rlib`,
      "-Cdebuginfo=0",
      `-Cincremental=${root}/incr/${crates[i].name}`,
      `-Ldependency=${out}`,
      ...deps,
    ]);
  }
  await step("app", [
    "app/main.rs",
    "--crate-name",
    "app",
    "--crate-type",
    "bin",
    "--edition",
    "2021",
    "-Cdebuginfo=0",
    `-Cincremental=${root}/incr/app`,
    "-o",
    `${out}/app`,
    `-Ldependency=${out}`,
    "--extern",
    `${crates.at(-1)!.name}=${out}/lib${crates.at(-1)!.name}.rlib`,
  ]);
  return { total, perCrate };
}

/** Results of the edit-loop benchmark. */
export interface EditLoopResult {
  readonly lines: number;
  readonly rounds: number;
  readonly bazel_ms: Record<string, number[]>;
  readonly cargo_incremental_ms: number[];
  readonly cargo_non_incremental_ms: number[];
  readonly rustc_persistent_chain_ms: number[];
  /** The big crate's Rustc action in store mode, from Bazel's profile. */
  readonly big_crate_store_action_ms: number[];
  /** The big crate's rustc with a persistent directory, outside Bazel. */
  readonly big_crate_rustc_persistent_ms: number[];
}

/**
 * Runs the edit-loop benchmark in `work` and prints its table; `undefined`
 * (with one line saying why) where Bazel, rustc or cargo is missing.
 */
export async function bazelEditLoop(
  work: string,
  quick: boolean,
): Promise<EditLoopResult | undefined> {
  const cargo = which("cargo", [`${Deno.env.get("HOME")}/.cargo/bin`, "/root/.cargo/bin"]);
  if (RUSTC === undefined || cargo === undefined) {
    console.log("   skipped: rustc or cargo not found");
    return undefined;
  }
  const crates = chain(quick);
  const rounds = quick ? 1 : 5;
  const runner = await prepareBazelWorkspace(work, {
    timeoutMs: 600_000,
    fill: (ws) => {
      Deno.mkdirSync(ws);
      writeBazelWorkspace(ws, crates);
    },
  });
  const ws = runner.workspace;
  const cargoRoot = `${work}/cargo`;
  writeCargoWorkspace(cargoRoot, crates);
  const rustcRoot = `${work}/rustc`;
  const lines = writeChain(rustcRoot, crates);
  Deno.mkdirSync(`${rustcRoot}/app`);
  Deno.writeTextFileSync(`${rustcRoot}/app/main.rs`, MAIN_RS(crates.at(-1)!.name));
  const big = 2; // chain() puts the big crate third
  const cargoEnv = (incremental: boolean) => ({
    PATH: `${cargo.slice(0, cargo.lastIndexOf("/"))}:/usr/bin:/bin`,
    HOME: Deno.env.get("HOME") ?? "/root",
    CARGO_INCREMENTAL: incremental ? "1" : "0",
    CARGO_TARGET_DIR: `${cargoRoot}/target-${incremental ? "incr" : "plain"}`,
    CARGO_NET_OFFLINE: "true",
  });
  const cargoBuild = (incremental: boolean) =>
    timed(cargo, ["build", "--offline", "-q"], { cwd: cargoRoot, env: cargoEnv(incremental) });

  const bazelMs: Record<string, number[]> = Object.fromEntries(
    Object.keys(MODES).map((m) => [m, []]),
  );
  const cargoIncr: number[] = [], cargoPlain: number[] = [], rustcPersistent: number[] = [];
  let value = 1000;
  const edit = () => {
    value++;
    for (const root of [ws, cargoRoot, rustcRoot]) {
      editOneFunction(`${root}/${crates[big].name}`, value);
    }
  };
  const bigAction = `Compiling Rust rlib //${crates[big].name}:${crates[big].name}`;
  const storeBigMs: number[] = [];
  const rustcBigMs: number[] = [];
  try {
    // Cold builds of every mode first: each round then starts from its mode's own last state.
    for (const flags of Object.values(MODES)) await bazelBuild(runner, flags);
    await cargoBuild(true);
    await cargoBuild(false);
    await rustcChain(rustcRoot, crates, RUSTC, 0);
    for (let round = 0; round < rounds; round++) {
      for (const [mode, flags] of Object.entries(MODES)) {
        edit();
        // The default mode's build is profiled: its big crate's action is timed on its own.
        const profile = `${runner.home}/profile-${round}.gz`;
        const profiled = mode === DEFAULT_MODE ? [`--profile=${profile}`] : [];
        bazelMs[mode].push((await bazelBuild(runner, [...flags, ...profiled])).milliseconds);
        if (profiled.length > 0) storeBigMs.push((await actionMilliseconds(profile, bigAction))!);
      }
      edit();
      cargoIncr.push(await cargoBuild(true));
      edit();
      cargoPlain.push(await cargoBuild(false));
      edit();
      const chained = await rustcChain(rustcRoot, crates, RUSTC, big);
      rustcPersistent.push(chained.total);
      rustcBigMs.push(chained.perCrate[crates[big].name]);
    }
  } finally {
    await bazelCommand(runner, ["shutdown"]).output();
  }
  const plain = median(bazelMs["incremental=false"]);
  const cargoMedian = median(cargoIncr);
  console.log(
    `   ${crates.length} crates + a binary, ${lines} lines; edit in ${
      crates[big].name
    }; medians of ${rounds}`,
  );
  for (const [mode, samples] of Object.entries(bazelMs)) {
    const ms = median(samples);
    console.log(
      `   bazel, ${mode.padEnd(18)} ${ms.toFixed(0).padStart(6)} ms   ${
        (ms / plain).toFixed(3)
      }x incremental=false   ${(ms / cargoMedian).toFixed(2)}x cargo incremental`,
    );
  }
  console.log(
    `   cargo, incremental         ${cargoMedian.toFixed(0).padStart(6)} ms   ${
      (cargoMedian / median(cargoPlain)).toFixed(3)
    }x cargo non-incremental (${median(cargoPlain).toFixed(0)} ms)`,
  );
  console.log(
    `   rustc, persistent dirs     ${
      median(rustcPersistent).toFixed(0).padStart(6)
    } ms   (the rebuilt chain, summed, no Bazel, no wrapper)`,
  );
  const bigRatio = median(storeBigMs.map((ms, round) => ms / rustcBigMs[round]));
  console.log(
    `   ${crates[big].name} alone: Bazel action (store) ${median(storeBigMs).toFixed(0)} ms, ` +
      `plain rustc ${median(rustcBigMs).toFixed(0)} ms: ${bigRatio.toFixed(3)}x ` +
      "(median of each round's ratio; target <= 1.15)",
  );
  return {
    lines,
    rounds,
    bazel_ms: bazelMs,
    cargo_incremental_ms: cargoIncr,
    cargo_non_incremental_ms: cargoPlain,
    rustc_persistent_chain_ms: rustcPersistent,
    big_crate_store_action_ms: storeBigMs,
    big_crate_rustc_persistent_ms: rustcBigMs,
  };
}
