/**
 * The edit loop under the real Bazel and the real rules_rust 0.9.0, patched
 * with `patches/rules_rust-0.9.0.patch` as a user would, built as `nobody`.
 * Two generated crate graphs, each edited by one line in a function body of
 * its big crate:
 *
 * - chain: base -> util -> parser (big, edited) -> engine -> front -> binary;
 * - wide: types -> ast (big, edited) -> four dependents -> one binary on all
 *   of them (issue #22: a library with several dependents).
 *
 * Every mode rebuilds after each edit, in interleaved rounds; in the same
 * run, two references: cargo building the same crates as a workspace (with
 * and without incremental; incremental also linking as the Bazel build does,
 * with the linker and arguments of Bazel's C++ toolchain, where cargo's own
 * default is rustc's bundled lld), and the same rustc invocations with
 * persistent `-Cincremental` directories outside Bazel (the rebuilt crates one
 * after another).
 *
 * Each mode has a Bazel server and output base of its own. Flags given on
 * the command line do not change Bazel 4's output directory, and every mode
 * changes every Rustc command line: in one output base each switch of mode
 * would recompile every crate, not the edited ones. So each timed build is
 * one edit after the same mode's previous build, and keeps its analysis.
 *
 * Not measured: tree mode with rustc in a sandbox (issue #23). The patch
 * marks incremental actions `no-sandbox`, and Bazel 4.2.3 keeps them out of
 * the sandbox whatever the flags: with `--strategy=Rustc=sandboxed
 * --strategy=RustcIncrSeed=sandboxed` its execution log still shows the
 * edited crate's Rustc action run `local` (its legacy local fallback), as
 * in tree mode.
 *
 * Run alone with `deno run -A bench/bazel_edit_loop.ts` (`BENCH_QUICK=1`: a
 * smaller graph, one round); its raw numbers go to
 * `bench/results/bazel_edit_loop.json`, or for a quick run to a temporary
 * file, unless `BENCH_RESULTS=FILE` says where.
 *
 * @module
 */

import { resolve } from "node:path";
import {
  actionMilliseconds,
  bazelBuild,
  bazelCommand,
  type BazelRunner,
  type Spawn,
} from "../fixtures/bazel.ts";
import { type CrateShape, editOneFunction, writeCrate } from "../fixtures/gen_crate.ts";
import {
  missingThirdParty,
  prepareRulesRustWorkspace,
  USE_THIS_WRAPPER,
} from "../fixtures/rules_rust.ts";
import { run, RUSTC, which } from "../tests/helpers.ts";
import { bazelBars, cargoBars, type TimelineRow, timelineSvg } from "./timeline.ts";

const SETTINGS = "--@rules_rust//rust/settings";
const PIPELINED = `${SETTINGS}:pipelined_compilation=true`;
const INCREMENTAL = `${SETTINGS}:incremental=true`;
const WORKERS = [
  `${SETTINGS}:experimental_persistent_worker=true`,
  "--experimental_worker_allow_json_protocol",
];

const OWN_WRAPPER = "rules_rust's own wrapper, incremental=false";
const OFF = "incremental=false";
const OFF_WORKERS = "incremental=false + workers";
const STORE = "store (default)";
const STORE_WORKERS = "store + workers";
const STORE_WORKERS_ONE_ACTION = "store + workers, one action per crate";
const TREE = "tree (PR 3925)";
const OWN_UNPIPELINED = "rules_rust's own wrapper, not pipelined";

/**
 * The modes, by their flags: this wrapper in all but rules_rust's own, every
 * one pipelined but the last two. Pipelined in the worker, an incremental
 * library's metadata action and its compile share one rustc (issue #22);
 * elsewhere, and without pipelining, it is one action. The last mode is
 * rules_rust 0.9.0 out of the box.
 */
const MODES: Readonly<Record<string, readonly string[]>> = {
  [OWN_WRAPPER]: [PIPELINED],
  [OFF]: [USE_THIS_WRAPPER, PIPELINED],
  [OFF_WORKERS]: [USE_THIS_WRAPPER, PIPELINED, ...WORKERS],
  [STORE]: [USE_THIS_WRAPPER, PIPELINED, INCREMENTAL],
  [STORE_WORKERS]: [USE_THIS_WRAPPER, PIPELINED, INCREMENTAL, ...WORKERS],
  [STORE_WORKERS_ONE_ACTION]: [USE_THIS_WRAPPER, INCREMENTAL, ...WORKERS],
  [TREE]: [USE_THIS_WRAPPER, PIPELINED, INCREMENTAL, `${SETTINGS}:incremental_mode=tree`],
  [OWN_UNPIPELINED]: [],
};

/** One crate of a graph and the crates it depends on. */
interface GraphCrate {
  readonly name: string;
  readonly shape: CrateShape;
  readonly deps: readonly string[];
}

/** A generated crate graph: libraries in dependency order, and a binary on the top ones. */
interface Graph {
  readonly name: string;
  readonly crates: readonly GraphCrate[];
  /** The big crate, edited each time. */
  readonly edited: string;
  /** The binary's name (progress messages name targets, not packages: unique across graphs). */
  readonly app: string;
}

function graphs(quick: boolean): Graph[] {
  const small = quick
    ? { modules: 3, functionsPerModule: 20 }
    : { modules: 6, functionsPerModule: 130 };
  const big = quick
    ? { modules: 6, functionsPerModule: 60 }
    : { modules: 24, functionsPerModule: 190 };
  const on = (name: string, shape: CrateShape, ...deps: string[]) => ({ name, shape, deps });
  return [
    {
      name: "chain",
      edited: "parser",
      app: "chain_app",
      crates: [
        on("base", small),
        on("util", small, "base"),
        on("parser", big, "util"),
        on("engine", small, "parser"),
        on("front", small, "engine"),
      ],
    },
    {
      name: "wide",
      edited: "ast",
      app: "wide_app",
      crates: [
        on("types", small),
        on("ast", big, "types"),
        ...["check", "lower", "lint", "docs"].map((name) => on(name, small, "ast")),
      ],
    },
  ];
}

/** The libraries no other library depends on: the binary's dependencies. */
const tops = (graph: Graph) =>
  graph.crates.filter((crate) => !graph.crates.some((other) => other.deps.includes(crate.name)))
    .map((crate) => crate.name);

/** The libraries an edit of the edited crate recompiles, in dependency order. */
function rebuiltLibraries(graph: Graph): string[] {
  const rebuilt = new Set([graph.edited]);
  for (const crate of graph.crates) {
    if (crate.deps.some((dep) => rebuilt.has(dep))) rebuilt.add(crate.name);
  }
  return graph.crates.map((crate) => crate.name).filter((name) => rebuilt.has(name));
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Writes each library into `root/<name>` and the binary's source into `root/app`. */
function writeGraph(root: string, graph: Graph): number {
  let lines = 0;
  for (const crate of graph.crates) {
    const dir = `${root}/${crate.name}`;
    lines += writeCrate(dir, crate.shape);
    const below = crate.deps.map((dep) => `.wrapping_add(${dep}::chained(seed))`).join("");
    Deno.writeTextFileSync(
      `${dir}/lib.rs`,
      `\npub fn chained(seed: u64) -> u64 { total(seed)${below} }\n`,
      { append: true },
    );
  }
  Deno.mkdirSync(`${root}/app`);
  const sum = tops(graph).map((top) => `.wrapping_add(${top}::chained(1))`).join("");
  Deno.writeTextFileSync(`${root}/app/main.rs`, `fn main() { println!("{}", 0u64${sum}); }\n`);
  return lines;
}

/** Where a graph's packages are in the workspace (beside `e2e/rules_rust`'s own). */
const bazelPackages = (graph: Graph) => `edit_${graph.name}`;

/** The graph as rules_rust targets in the package tree `//edit_<graph>/...` of `ws`. */
function writeBazelGraph(ws: string, graph: Graph) {
  const root = `${ws}/${bazelPackages(graph)}`;
  writeGraph(root, graph);
  const labels = (names: readonly string[]) =>
    names.map((name) => `"//${bazelPackages(graph)}/${name}"`).join(", ");
  for (const crate of graph.crates) {
    Deno.writeTextFileSync(
      `${root}/${crate.name}/BUILD.bazel`,
      `load("@rules_rust//rust:defs.bzl", "rust_library")\n\n` +
        `rust_library(\n    name = "${crate.name}",\n    srcs = glob(["*.rs"]),\n` +
        `    crate_root = "lib.rs",\n    edition = "2021",\n` +
        `    visibility = ["//visibility:public"],\n    deps = [${labels(crate.deps)}],\n)\n`,
    );
  }
  Deno.writeTextFileSync(
    `${root}/app/BUILD.bazel`,
    `load("@rules_rust//rust:defs.bzl", "rust_binary")\n\n` +
      `rust_binary(\n    name = "${graph.app}",\n    srcs = ["main.rs"],\n` +
      `    edition = "2021",\n    deps = [${labels(tops(graph))}],\n)\n`,
  );
}

/** The same crates as a cargo workspace: path dependencies, opt-level 0, no debuginfo. */
function writeCargoWorkspace(root: string, graph: Graph) {
  writeGraph(root, graph);
  const dependencies = (names: readonly string[]) =>
    names.map((name) => `${name} = { path = "../${name}" }\n`).join("");
  for (const crate of graph.crates) {
    Deno.writeTextFileSync(
      `${root}/${crate.name}/Cargo.toml`,
      `[package]\nname = "${crate.name}"\nversion = "0.1.0"\nedition = "2021"\n\n` +
        `[lib]\npath = "lib.rs"\n\n[dependencies]\n${dependencies(crate.deps)}`,
    );
  }
  Deno.writeTextFileSync(
    `${root}/app/Cargo.toml`,
    `[package]\nname = "${graph.app}"\nversion = "0.1.0"\nedition = "2021"\n\n` +
      `[[bin]]\nname = "${graph.app}"\npath = "main.rs"\n\n` +
      `[dependencies]\n${dependencies(tops(graph))}`,
  );
  const members = [...graph.crates.map((crate) => crate.name), "app"];
  Deno.writeTextFileSync(
    `${root}/Cargo.toml`,
    `[workspace]\nresolver = "2"\nmembers = [${members.map((n) => `"${n}"`).join(", ")}]\n\n` +
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

/**
 * The graph's rustc invocations with persistent incremental directories, one
 * after another: every crate when `only` is undefined, else those named.
 */
async function rustcGraph(
  root: string,
  graph: Graph,
  rustc: string,
  only?: readonly string[],
) {
  let total = 0;
  const out = `${root}/out`;
  Deno.mkdirSync(out, { recursive: true });
  const perCrate: Record<string, number> = {};
  const step = async (name: string, args: string[]) => {
    perCrate[name] = await timed(rustc, args, { cwd: root, env: { PATH: "/usr/bin:/bin" } });
    total += perCrate[name];
  };
  const externs = (names: readonly string[], kind: string) =>
    names.flatMap((name) => ["--extern", `${name}=${out}/lib${name}.${kind}`]);
  for (const crate of graph.crates) {
    if (only !== undefined && !only.includes(crate.name)) continue;
    await step(crate.name, [
      `${crate.name}/lib.rs`,
      "--crate-name",
      crate.name,
      "--crate-type",
      "rlib",
      "--edition",
      "2021",
      `--emit=metadata=${out}/lib${crate.name}.rmeta,link=${out}/lib${crate.name}.rlib`,
      "-Cdebuginfo=0",
      `-Cincremental=${root}/incr/${crate.name}`,
      `-Ldependency=${out}`,
      ...externs(crate.deps, "rmeta"),
    ]);
  }
  await step("app", [
    "app/main.rs",
    "--crate-name",
    graph.app,
    "--crate-type",
    "bin",
    "--edition",
    "2021",
    "-Cdebuginfo=0",
    `-Cincremental=${root}/incr/app`,
    "-o",
    `${out}/app`,
    `-Ldependency=${out}`,
    ...externs(tops(graph), "rlib"),
  ]);
  return { total, perCrate };
}

/** One graph's samples, one per round (per mode where keyed by mode). */
export interface GraphResult {
  /** Each library and the libraries it depends on. */
  readonly crates: Record<string, readonly string[]>;
  readonly edited: string;
  /** The libraries each edit recompiles (and the binary). */
  readonly rebuilt: readonly string[];
  readonly lines: number;
  /** Wall time of `bazel build //edit_<graph>/...` after the edit. */
  readonly bazel_ms: Record<string, number[]>;
  /** The edited crate's Rustc action, from Bazel's profile. */
  readonly edited_action_ms: Record<string, number[]>;
  /** How many Rustc actions the build ran. */
  readonly rustc_actions: Record<string, number[]>;
  /** Where Bazel ran the edited crate's Rustc action (local, worker, a sandbox). */
  readonly edited_action_runner: Record<string, string[]>;
  readonly cargo_incremental_ms: number[];
  /**
   * cargo incremental, linking as the Bazel build does (Bazel's C++ toolchain,
   * `linker`): cargo's own default here is rustc's bundled lld.
   */
  readonly cargo_incremental_bazel_linker_ms: number[];
  /** How the Bazel build links the binary: rules_rust's `-Clinker` and `-Clink-args`. */
  readonly bazel_linker: BazelLinker;
  readonly cargo_non_incremental_ms: number[];
  /** The rebuilt crates' rustc with persistent directories, one after another, summed. */
  readonly rustc_persistent_ms: number[];
  /** The edited crate's rustc with a persistent directory, outside Bazel. */
  readonly edited_rustc_persistent_ms: number[];
  /** Each target of issue #21 and #22: the measured ratio (of medians) and whether it is met. */
  readonly targets: readonly Target[];
}

/** How a Bazel build links a binary: the C++ toolchain's linker and arguments, as rustc gets them. */
export interface BazelLinker {
  readonly linker: string;
  readonly link_args: string;
}

/**
 * The linker and link arguments of the Rustc action that writes `binary`
 * (its `@param` files read from `execroot`).
 */
function bazelLinker(spawns: readonly Spawn[], execroot: string, binary: string): BazelLinker {
  const spawn = spawns.find((spawn) =>
    spawn.mnemonic === "Rustc" && spawn.listedOutputs?.some((path) => path.endsWith(`/${binary}`))
  );
  if (spawn === undefined) throw new Error(`no Rustc action wrote ${binary}`);
  const args = spawn.commandArgs.flatMap((arg) =>
    arg.startsWith("@") ? Deno.readTextFileSync(`${execroot}/${arg.slice(1)}`).split("\n") : [arg]
  );
  const value = (option: string) => {
    const pattern = new RegExp(`^(?:--codegen=|-C)?${option}=(.+)$`);
    const found = args.map((arg) => pattern.exec(arg)?.[1]).find((match) => match !== undefined);
    if (found === undefined) throw new Error(`${binary}'s Rustc action has no ${option}`);
    return found;
  };
  // A linker inside the execroot (a toolchain's wrapper script) is named relative to it.
  const linker = value("linker");
  return { linker: resolve(execroot, linker), link_args: value("link-args") };
}

/** A target ratio and the measured one. */
export interface Target {
  readonly name: string;
  readonly ratio: number;
  readonly at_most: number;
  readonly met: boolean;
}

/** Results of the edit-loop benchmark. */
export interface EditLoopResult {
  readonly rounds: number;
  readonly rules_rust: string;
  readonly versions: Record<string, string>;
  readonly modes: Readonly<Record<string, readonly string[]>>;
  readonly graphs: Record<string, GraphResult>;
  /** Per graph, the last round's rebuild of each mode and cargo's, action by action. */
  readonly timelines: Record<string, TimelineRow[]>;
}

/** What one timed `bazel build` did. */
interface TimedBuild {
  readonly milliseconds: number;
  readonly spawns: Spawn[];
  readonly profile: string;
}

/**
 * Runs the edit-loop benchmark in `work` (a fresh directory) and prints its
 * tables; `undefined` (with one line saying why) where rustc, cargo or the
 * rules_rust sources are missing.
 *
 * @example
 * ```ts ignore
 * const result = await bazelEditLoop(await Deno.makeTempDir(), true);
 * ```
 */
export async function bazelEditLoop(
  work: string,
  quick: boolean,
): Promise<EditLoopResult | undefined> {
  const cargo = which("cargo", [`${Deno.env.get("HOME")}/.cargo/bin`, "/root/.cargo/bin"]);
  const missing = missingThirdParty();
  if (RUSTC === undefined || cargo === undefined || missing !== undefined) {
    console.log(`   skipped: ${missing ?? "rustc or cargo"} not found`);
    return undefined;
  }
  const rustc = RUSTC;
  const rustcHost = (await run(rustc, ["-vV"])).stdout.match(/^host: (.+)$/m)![1];
  const measured = graphs(quick);
  const rounds = quick ? 1 : 5;
  const runner = await prepareRulesRustWorkspace(work, {
    patched: true,
    timeoutMs: 600_000,
    fill: (ws) => measured.forEach((graph) => writeBazelGraph(ws, graph)),
  });
  const modes = Object.keys(MODES);
  const lines: Record<string, number> = {};
  for (const graph of measured) {
    writeCargoWorkspace(`${work}/cargo/${graph.name}`, graph);
    lines[graph.name] = writeGraph(`${work}/rustc/${graph.name}`, graph);
  }
  const linkers: Record<string, BazelLinker> = {};
  const cargoEnv = (graph: Graph, incremental: boolean, linker?: BazelLinker) => ({
    PATH: `${cargo.slice(0, cargo.lastIndexOf("/"))}:/usr/bin:/bin`,
    HOME: Deno.env.get("HOME") ?? "/root",
    CARGO_INCREMENTAL: incremental ? "1" : "0",
    CARGO_TARGET_DIR: `${work}/cargo/${graph.name}/target-${incremental ? "incr" : "plain"}${
      linker ? "-bazel-linker" : ""
    }`,
    CARGO_NET_OFFLINE: "true",
    ...(linker && {
      [`CARGO_TARGET_${rustcHost.toUpperCase().replaceAll(/[-.]/g, "_")}_LINKER`]: linker.linker,
      // One argument, spaces and all, as rules_rust passes it.
      CARGO_ENCODED_RUSTFLAGS: `-Clink-args=${linker.link_args}`,
    }),
  });
  const cargoBuild = (graph: Graph, incremental: boolean, linker?: BazelLinker) =>
    timed(cargo, ["build", "--offline", "-q"], {
      cwd: `${work}/cargo/${graph.name}`,
      env: cargoEnv(graph, incremental, linker),
    });
  let value = 1000;
  const edit = (graph: Graph) => {
    value++;
    for (
      const root of [
        `${runner.workspace}/${bazelPackages(graph)}`,
        ...["cargo", "rustc"].map((r) => `${work}/${r}/${graph.name}`),
      ]
    ) {
      editOneFunction(`${root}/${graph.edited}`, value);
    }
  };
  const byMode = <T>() => Object.fromEntries(modes.map((mode) => [mode, [] as T[]]));
  const results = Object.fromEntries(measured.map((graph) => [graph.name, {
    bazel_ms: byMode<number>(),
    edited_action_ms: byMode<number>(),
    rustc_actions: byMode<number>(),
    edited_action_runner: byMode<string>(),
    cargo_incremental_ms: [] as number[],
    cargo_incremental_bazel_linker_ms: [] as number[],
    cargo_non_incremental_ms: [] as number[],
    rustc_persistent_ms: [] as number[],
    edited_rustc_persistent_ms: [] as number[],
  }]));
  const started = new Set<number>();
  // The last round's rebuild of each mode, for the picture of where its time goes.
  const timelines: Record<string, TimelineRow[]> = {};
  const lastProfiles: Record<string, { mode: string; totalMs: number; profile: string }[]> = {};
  const build = (mode: number, graph: Graph) => {
    started.add(mode);
    return timedBuild(
      runner,
      outputBaseOf(runner, mode),
      `//${bazelPackages(graph)}/...`,
      MODES[modes[mode]],
    );
  };
  try {
    // Cold builds of every mode first: each timed build is then one edit after its mode's last.
    for (const graph of measured) {
      for (const mode of modes.keys()) {
        const { spawns } = await build(mode, graph);
        if (modes[mode] !== OFF) continue;
        const execroot = `${outputBaseOf(runner, mode)}/execroot/rules_rust_e2e`;
        linkers[graph.name] = bazelLinker(spawns, execroot, graph.app);
      }
      await cargoBuild(graph, true);
      await cargoBuild(graph, true, linkers[graph.name]);
      await cargoBuild(graph, false);
      await rustcGraph(`${work}/rustc/${graph.name}`, graph, rustc);
    }
    for (let round = 0; round < rounds; round++) {
      for (const graph of measured) {
        const samples = results[graph.name];
        const editedAction = `Compiling Rust rlib ${graph.edited} (${
          graph.crates.find((crate) => crate.name === graph.edited)!.shape.modules + 1
        } files)`;
        const editedOutput = new RegExp(
          `/${bazelPackages(graph)}/${graph.edited}/lib${graph.edited}-[^/]*\\.rlib$`,
        );
        for (const [mode, name] of modes.entries()) {
          edit(graph);
          const { milliseconds, spawns, profile } = await build(mode, graph);
          const rustcSpawns = spawns.filter((spawn) => spawn.mnemonic === "Rustc");
          const edited = rustcSpawns.find((spawn) =>
            spawn.listedOutputs?.some((path) => editedOutput.test(path))
          );
          const actionMs = await actionMilliseconds(profile, editedAction);
          if (edited === undefined || actionMs === undefined) {
            throw new Error(`${name}: the edit of ${graph.edited} did not recompile it`);
          }
          if (round === rounds - 1) {
            (lastProfiles[graph.name] ??= []).push({ mode: name, totalMs: milliseconds, profile });
          }
          samples.bazel_ms[name].push(milliseconds);
          samples.edited_action_ms[name].push(actionMs);
          samples.rustc_actions[name].push(rustcSpawns.length);
          samples.edited_action_runner[name].push(edited.runner);
        }
        edit(graph);
        samples.cargo_incremental_ms.push(await cargoBuild(graph, true));
        edit(graph);
        samples.cargo_incremental_bazel_linker_ms.push(
          await cargoBuild(graph, true, linkers[graph.name]),
        );
        edit(graph);
        samples.cargo_non_incremental_ms.push(await cargoBuild(graph, false));
        edit(graph);
        const rebuilt = await rustcGraph(
          `${work}/rustc/${graph.name}`,
          graph,
          rustc,
          rebuiltLibraries(graph),
        );
        samples.rustc_persistent_ms.push(rebuilt.total);
        samples.edited_rustc_persistent_ms.push(rebuilt.perCrate[graph.edited]);
      }
    }
    for (const graph of measured) {
      edit(graph);
      const env = cargoEnv(graph, true);
      const cargoMs = await timed(cargo, ["build", "--offline", "-q", "--timings"], {
        cwd: `${work}/cargo/${graph.name}`,
        env,
      });
      const report = Deno.readTextFileSync(
        `${env.CARGO_TARGET_DIR}/cargo-timings/cargo-timing.html`,
      );
      timelines[graph.name] = [
        ...await Promise.all(
          lastProfiles[graph.name].map(async ({ mode, totalMs, profile }) => ({
            mode,
            totalMs,
            bars: await bazelBars(profile),
          })),
        ),
        { mode: "cargo, incremental (--timings)", totalMs: cargoMs, bars: cargoBars(report) },
      ];
    }
  } finally {
    for (const mode of started) {
      await bazelCommand(runner, [`--output_base=${outputBaseOf(runner, mode)}`, "shutdown"])
        .output();
    }
  }
  const graphResults: Record<string, GraphResult> = {};
  for (const graph of measured) {
    const samples = results[graph.name];
    const result: GraphResult = {
      crates: Object.fromEntries(graph.crates.map((crate) => [crate.name, crate.deps])),
      edited: graph.edited,
      rebuilt: [...rebuiltLibraries(graph), graph.app],
      lines: lines[graph.name],
      bazel_linker: linkers[graph.name],
      ...samples,
      targets: targets(samples),
    };
    printGraph(graph, result, rounds);
    graphResults[graph.name] = result;
  }
  return {
    rounds,
    rules_rust: "0.9.0 + patches/rules_rust-0.9.0.patch",
    versions: {
      bazel: await firstLine(runner.bazel, ["--version"]),
      rustc: await firstLine(rustc, ["--version"]),
      cargo: await firstLine(cargo, ["--version"]),
    },
    modes: MODES,
    graphs: graphResults,
    timelines,
  };
}

/** Each mode's Bazel server and output base (see the module's notes). */
const outputBaseOf = (runner: BazelRunner, mode: number) => `${runner.home}/output-base-${mode}`;

let builds = 0;

/** `bazel build TARGET FLAGS` in an output base, with an execution log and a profile. */
async function timedBuild(
  runner: BazelRunner,
  outputBase: string,
  target: string,
  flags: readonly string[],
): Promise<TimedBuild> {
  const profile = `${runner.home}/profile-${++builds}.gz`;
  const built = await bazelBuild(runner, [target, ...flags], {
    startup: [`--output_base=${outputBase}`],
    profile,
  });
  return { ...built, profile };
}

function targets(samples: {
  bazel_ms: Record<string, number[]>;
  edited_action_ms: Record<string, number[]>;
  cargo_incremental_ms: number[];
  cargo_incremental_bazel_linker_ms: number[];
  edited_rustc_persistent_ms: number[];
}): Target[] {
  const ms = (mode: string) => median(samples.bazel_ms[mode]);
  const target = (name: string, ratio: number, at_most: number) => ({
    name,
    ratio,
    at_most,
    met: ratio <= at_most,
  });
  // Each round's action against the rustc run of the same round.
  const action = median(
    samples.edited_action_ms[STORE].map((ms, round) =>
      ms / samples.edited_rustc_persistent_ms[round]
    ),
  );
  return [
    target(`${STORE} / ${OFF}`, ms(STORE) / ms(OFF), 0.40),
    target(`${STORE_WORKERS} / ${OFF}`, ms(STORE_WORKERS) / ms(OFF), 0.37),
    target(`${TREE} / ${OFF}`, ms(TREE) / ms(OFF), 0.55),
    target(`edited crate's Rustc action (${STORE}) / plain rustc, persistent dir`, action, 1.10),
    target(`${OFF_WORKERS} / ${OWN_WRAPPER}`, ms(OFF_WORKERS) / ms(OWN_WRAPPER), 1.00),
    target(
      `${STORE_WORKERS} (pipelined) / cargo incremental`,
      ms(STORE_WORKERS) / median(samples.cargo_incremental_ms),
      1.15,
    ),
    target(
      `${STORE_WORKERS} (pipelined) / cargo incremental linking as Bazel does`,
      ms(STORE_WORKERS) / median(samples.cargo_incremental_bazel_linker_ms),
      1.15,
    ),
  ];
}

function printGraph(graph: Graph, result: GraphResult, rounds: number) {
  const cargoMs = median(result.cargo_incremental_ms);
  const off = median(result.bazel_ms[OFF]);
  const own = median(result.bazel_ms[OWN_WRAPPER]);
  console.log(
    `\n   ${graph.name}: ${graph.crates.length} libraries + a binary, ${result.lines} lines; ` +
      `edit in ${graph.edited}, rebuilds ${result.rebuilt.join(", ")}; medians of ${rounds}`,
  );
  console.log(
    `   x off: of ${OFF} (this wrapper); x own: of ${OWN_WRAPPER}; ` +
      `Rustc: actions run; runs in: where ${graph.edited}'s ran`,
  );
  console.log(
    `   ${"bazel mode".padEnd(44)} ${"ms".padStart(6)}  x off  x own  x cargo  ` +
      `${graph.edited} action  Rustc  runs in`,
  );
  for (const [mode, samples] of Object.entries(result.bazel_ms)) {
    const ms = median(samples);
    console.log(
      `   ${mode.padEnd(44)} ${ms.toFixed(0).padStart(6)}  ${(ms / off).toFixed(3)}  ${
        (ms / own).toFixed(3)
      }  ${(ms / cargoMs).toFixed(2).padStart(7)}  ${
        median(result.edited_action_ms[mode]).toFixed(0).padStart(6)
      } ms  ${median(result.rustc_actions[mode]).toString().padStart(5)}  ${
        [...new Set(result.edited_action_runner[mode])].join(",")
      }`,
    );
  }
  console.log(
    `   ${"cargo, incremental".padEnd(44)} ${cargoMs.toFixed(0).padStart(6)}  (non-incremental ${
      median(result.cargo_non_incremental_ms).toFixed(0)
    } ms)`,
  );
  console.log(
    `   ${"cargo, incremental, linking as Bazel does".padEnd(44)} ${
      median(result.cargo_incremental_bazel_linker_ms).toFixed(0).padStart(6)
    }  (${result.bazel_linker.linker} ${result.bazel_linker.link_args})`,
  );
  console.log(
    `   ${"rustc, persistent dirs, one after another".padEnd(44)} ${
      median(result.rustc_persistent_ms).toFixed(0).padStart(6)
    }  (${graph.edited} alone ${median(result.edited_rustc_persistent_ms).toFixed(0)} ms)`,
  );
  console.log("   targets (issues #21 and #22)");
  for (const { name, ratio, at_most, met } of result.targets) {
    console.log(
      `   ${met ? "met   " : "missed"} ${ratio.toFixed(3)}x (<= ${at_most.toFixed(2)})  ${name}`,
    );
  }
}

async function firstLine(command: string, args: string[]): Promise<string> {
  const result = await run(command, args);
  return (result.stdout || result.stderr).split("\n")[0];
}

if (import.meta.main) {
  const quick = Deno.env.get("BENCH_QUICK") === "1";
  const resultsFile = Deno.env.get("BENCH_RESULTS") ??
    (quick
      ? `${Deno.makeTempDirSync({ prefix: "pw-bench-quick-" })}/bazel_edit_loop.json`
      : new URL("./results/bazel_edit_loop.json", import.meta.url).pathname);
  const work = await Deno.makeTempDir({ prefix: "pw-bench-bazel-" });
  try {
    const result = await bazelEditLoop(work, quick);
    if (result !== undefined) {
      const header = {
        date: new Date().toISOString(),
        machine: `${Deno.build.target}, ${navigator.hardwareConcurrency} cores, ${
          Math.round(Deno.systemMemoryInfo().total / 2 ** 30)
        } GiB`,
        deno: Deno.version.deno,
        command: `${quick ? "BENCH_QUICK=1 " : ""}deno run -A bench/bazel_edit_loop.ts`,
        quick,
      };
      Deno.writeTextFileSync(resultsFile, JSON.stringify({ ...header, ...result }, null, 2) + "\n");
      console.log(`\nraw numbers: ${resultsFile}`);
      for (const [graph, rows] of Object.entries(result.timelines)) {
        const picture = resultsFile.replace(/\.json$/, `_${graph}.svg`);
        Deno.writeTextFileSync(
          picture,
          timelineSvg(`${graph}: one rebuild after a one-line edit, ${header.date}`, rows),
        );
        console.log(`where the time goes: ${picture}`);
      }
    }
  } finally {
    await run("sh", ["-c", `chmod -R u+w '${work}'; rm -rf '${work}'`]);
  }
}
