/**
 * The main job (`deno task demo`): builds a generated crate through the
 * wrapper, changes one line, then rebuilds it from the same starting point in
 * each of the three ways a rules_rust build can run the compile action:
 *
 * - incremental=false: the compile action alone, no `-Cincremental`;
 * - store (the default incremental mode): the compile action with
 *   `--incremental-store DIR`, rustc's state kept in DIR across builds;
 * - tree (rules_rust PR 3925): the seed action (`--seed-prev-dir ...
 *   --exit-early true`), then the compile action (`--copy-seed ...
 *   --write-unused-inputs ...`), the state travelling as a tree artifact.
 *
 * Each rebuild runs three times, the order rotating. It prints every sample
 * and the medians, how many objects rustc reused, the unused-inputs list and
 * the seed report, each with what it means. Without rustc it says so in one
 * line; any other failing step stops it.
 *
 * @module
 */

import { editOneFunction, writeCrate } from "../fixtures/gen_crate.ts";
import { sessionReuse } from "../fixtures/rustc_reuse.ts";
import { compileActionArgs, seedActionArgs } from "../fixtures/pr3925_args.ts";

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;
const SHAPE = { modules: 12, functionsPerModule: 120 };
// rustup installs rustc in ~/.cargo/bin, which a fresh shell may not have on PATH.
const PATH = `${Deno.env.get("PATH")}:${Deno.env.get("HOME")}/.cargo/bin`;

/** `rustc --version`, or `undefined` when there is no rustc to run. */
async function rustcVersion(): Promise<string | undefined> {
  try {
    const { code, stdout } = await new Deno.Command("rustc", {
      args: ["--version"],
      env: { PATH },
      stdout: "piped",
      stderr: "null",
    }).output();
    return code === 0 ? new TextDecoder().decode(stdout).trim() : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

async function wrapper(cwd: string, args: string[]): Promise<number> {
  const started = performance.now();
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-A", MAIN_TS, ...args],
    cwd,
    env: { PATH },
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  if (text) console.error(text.trimEnd());
  if (code !== 0) throw new Error(`wrapper exited ${code}: ${args.join(" ")}`);
  return performance.now() - started;
}

/** The compile action's rustc output flags and rustc itself; `incremental` is its `-Cincremental`. */
function rustcArgs(incremental?: string): string[] {
  return [
    "--subst",
    "pwd=${pwd}",
    "--rustc-output-format",
    "rendered",
    "--",
    "rustc",
    "--crate-type=rlib",
    "--crate-name=demo",
    "${pwd}/src/lib.rs",
    "--emit=link",
    ...(incremental === undefined ? [] : [`-Cincremental=${incremental}`]),
    "--out-dir=out",
    "--error-format=json",
    "--json=artifacts",
  ];
}

/** The store mode's compile action: the wrapper appends `-Cincremental=${pwd}/store/incr`. */
const storeArgs = () => ["--incremental-store", "${pwd}/store", ...rustcArgs()];

async function sh(command: string): Promise<void> {
  const { code, stderr } = await new Deno.Command("sh", { args: ["-c", command] }).output();
  if (code !== 0) {
    throw new Error(`'${command}' exited ${code}: ${new TextDecoder().decode(stderr).trim()}`);
  }
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1];
const ms = (value: number) => `${value.toFixed(0)} ms`;

/** Every rebuild starts from this copy: the first builds' outputs and the edited source. */
async function restore(work: string, before: string): Promise<void> {
  await sh(`chmod -R u+w '${work}' 2>/dev/null; rm -rf '${work}' && cp -a '${before}' '${work}'`);
}

/** One rebuild's actions and their times. */
type Rebuild = { total: number; parts: string };

const MODES = {
  "incremental=false": async (work: string): Promise<Rebuild> => {
    await sh(`rm -rf '${work}/out'`);
    const total = await wrapper(work, rustcArgs());
    return { total, parts: "compile action" };
  },
  "store (default)": async (work: string): Promise<Rebuild> => {
    await sh(`rm -rf '${work}/out'`);
    const total = await wrapper(work, storeArgs());
    return { total, parts: "compile action" };
  },
  "tree (PR 3925)": async (work: string): Promise<Rebuild> => {
    // PR 3925's two actions, in the same directory (rustc discards its cache when it changes).
    const seed = await wrapper(work, seedActionArgs("incr", "seed", 0));
    await sh(
      `find '${work}/seed' -type f -exec chmod a-w {} + ; rm -rf '${work}/incr' '${work}/out'`,
    );
    const compile = await wrapper(work, [
      ...compileActionArgs("seed", "incr", "unused_inputs.txt", 0),
      "--seed-report",
      "seed_report.json",
      ...rustcArgs("${pwd}/incr"),
    ]);
    return {
      total: seed + compile,
      parts: `seed action ${ms(seed)} + compile action ${ms(compile)}`,
    };
  },
};
type Mode = keyof typeof MODES;

const rustc = await rustcVersion();
if (rustc === undefined) {
  console.error(
    "the demo needs rustc: none on PATH or in ~/.cargo/bin (install Rust, e.g. from https://rustup.rs)",
  );
  Deno.exit(1);
}

const ROUNDS = 3;
const work = await Deno.makeTempDir({ prefix: "pw-demo-" });
const before = `${work}.before`;
try {
  const lines = writeCrate(`${work}/src`, SHAPE);
  console.log(`generated a ${lines}-line crate in ${work}/src; ${rustc}`);
  const firstStore = await wrapper(work, storeArgs());
  const firstTree = await wrapper(work, rustcArgs("${pwd}/incr"));
  console.log(
    `first builds (cold, each writes incremental state): store ${ms(firstStore)}, tree ${
      ms(firstTree)
    }`,
  );
  // Bazel leaves its outputs read-only (a store is not an output: rustc keeps writing it).
  await sh(`find '${work}/incr' '${work}/out' -type f -exec chmod a-w {} +`);
  editOneFunction(`${work}/src`, 2);
  console.log("changed one line in one function body (src/m0.rs)");
  await sh(`cp -a '${work}' '${before}'`);

  const modes = Object.keys(MODES) as Mode[];
  const samples = new Map<Mode, Rebuild[]>(modes.map((mode) => [mode, []]));
  const reuse = new Map<Mode, string>();
  let unused = "";
  let reportText = "";
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order, so that no mode always runs on a warmer machine.
    for (const mode of [...modes.slice(round), ...modes.slice(0, round)]) {
      await restore(work, before);
      samples.get(mode)!.push(await MODES[mode](work));
      const incr = mode === "store (default)" ? `${work}/store/incr` : `${work}/incr`;
      if (mode !== "incremental=false") {
        const { reused, objects } = sessionReuse(incr);
        reuse.set(mode, `${reused} of ${objects} objects reused`);
      }
      if (mode === "tree (PR 3925)") {
        unused = Deno.readTextFileSync(`${work}/unused_inputs.txt`);
        reportText = Deno.readTextFileSync(`${work}/seed_report.json`);
      }
    }
  }
  console.log(`\nrebuild after the edit, median of ${ROUNDS} rounds (each sample in brackets):`);
  const baseline = median(samples.get("incremental=false")!.map(({ total }) => total));
  for (const mode of modes) {
    const runs = samples.get(mode)!;
    const totals = runs.map(({ total }) => total);
    const middle = runs.find(({ total }) => total === median(totals))!;
    console.log(
      `  ${mode.padEnd(18)} ${ms(median(totals)).padStart(8)} (${
        (median(totals) / baseline).toFixed(2)
      }x) [${totals.map(ms).join(", ")}]: ${middle.parts}${
        reuse.has(mode) ? `; ${reuse.get(mode)}` : ""
      }`,
    );
  }
  console.log(
    "Why faster: with its previous session at hand, rustc recompiles only the code the edit " +
      "touched and keeps the rest. store: rustc works in a directory the wrapper keeps (locked, " +
      "keyed by the command line), as with cargo. tree: the state is a Bazel output, so a seed " +
      "action copies it out and the compile action links it back in.",
  );

  console.log(`\ntree mode, unused_inputs.txt: ${JSON.stringify(unused)}`);
  console.log(
    "  Bazel's unused_inputs_list: inputs named there are left out of the compile action's " +
      "cache key, so a seed that differs every build never makes the action rerun by itself.",
  );

  const report = JSON.parse(reportText);
  console.log(`\ntree mode, seed_report.json (last seeded run): ${reportText}`);
  const freshLocks = report.files - report.linked - report.copied;
  console.log(
    [
      `  files ${report.files} = linked ${report.linked} + copied ${report.copied} + ` +
      `${freshLocks} fresh lock file(s), one per session: rustc must open a session's lock ` +
      "read-write, so each gets a new empty one, never a link of the seed's.",
      "  source, destination: the seed tree and the directory seeded, as the flag names them.",
      "  linked: files rustc only replaces (dep-graph, query cache, work products, metadata).",
      "  copied: object files, made writable (rustc refuses read-only reused objects).",
      `  sessions ${report.sessions}: only the newest finished session of each crate is seeded.`,
      "  bytes_counted: bytes counted against --seed-min-mb (0 here: no threshold to reach).",
    ].join("\n"),
  );
} finally {
  await sh(`chmod -R u+w '${work}' '${before}' 2>/dev/null; rm -rf '${work}' '${before}'`);
}
