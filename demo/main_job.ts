/**
 * The main job (`deno task demo`): builds a generated crate through the
 * wrapper with `-Cincremental`, changes one line, then rebuilds it twice from
 * the same starting point, exactly as Bazel would run the actions:
 *
 * - cold: the compile action alone, into an empty incremental directory;
 * - seeded: the seed action (`--seed-prev-dir ... --exit-early true`), then
 *   the compile action (`--copy-seed ... --write-unused-inputs ...`).
 *
 * Both rebuilds run three times, in alternating order. It prints every sample
 * and the medians, how many objects rustc reused, the unused-inputs list and
 * the seed report, each with what it means. Any step that fails stops it.
 *
 * @module
 */

import { editOneFunction, writeCrate } from "../fixtures/gen_crate.ts";
import { sessionReuse } from "../fixtures/rustc_reuse.ts";
import { compileActionArgs, seedActionArgs } from "../fixtures/pr3925_args.ts";

const MAIN_TS = new URL("../main.ts", import.meta.url).pathname;
const SHAPE = { modules: 12, functionsPerModule: 120 };

async function wrapper(cwd: string, args: string[]): Promise<number> {
  const started = performance.now();
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-A", MAIN_TS, ...args],
    cwd,
    // rustup installs rustc in ~/.cargo/bin, which a fresh shell may not have on PATH.
    env: { PATH: `${Deno.env.get("PATH")}:${Deno.env.get("HOME")}/.cargo/bin` },
    stdout: "inherit",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stderr);
  if (text) console.error(text.trimEnd());
  if (code !== 0) throw new Error(`wrapper exited ${code}: ${args.join(" ")}`);
  return performance.now() - started;
}

function compileArgs(): string[] {
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
    "-Cincremental=${pwd}/incr",
    "--out-dir=out",
    "--error-format=json",
    "--json=artifacts",
  ];
}

async function sh(command: string): Promise<void> {
  const { code, stderr } = await new Deno.Command("sh", { args: ["-c", command] }).output();
  if (code !== 0) {
    throw new Error(`'${command}' exited ${code}: ${new TextDecoder().decode(stderr).trim()}`);
  }
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1];
const ms = (value: number) => `${value.toFixed(0)} ms`;

/** Every rebuild starts from this copy: the first build's outputs and the edited source. */
async function restore(work: string, before: string): Promise<void> {
  await sh(`chmod -R u+w '${work}' 2>/dev/null; rm -rf '${work}' && cp -a '${before}' '${work}'`);
}

/** The compile action alone, into an empty incremental directory (Bazel wiped the outputs). */
async function coldRebuild(work: string): Promise<number> {
  await sh(`rm -rf '${work}/incr' '${work}/out'`);
  return await wrapper(work, compileArgs());
}

/** PR 3925's two actions, in the same directory (rustc discards its cache when it changes). */
async function seededRebuild(work: string): Promise<{ seed: number; compile: number }> {
  const seed = await wrapper(work, seedActionArgs("incr", "seed", 0));
  await sh(
    `find '${work}/seed' -type f -exec chmod a-w {} + ; rm -rf '${work}/incr' '${work}/out'`,
  );
  const compile = await wrapper(work, [
    ...compileActionArgs("seed", "incr", "unused_inputs.txt", 0),
    "--seed-report",
    "seed_report.json",
    ...compileArgs(),
  ]);
  return { seed, compile };
}

const ROUNDS = 3;
const work = await Deno.makeTempDir({ prefix: "pw-demo-" });
const before = `${work}.before`;
try {
  const lines = writeCrate(`${work}/src`, SHAPE);
  console.log(`generated a ${lines}-line crate in ${work}/src`);
  const first = await wrapper(work, compileArgs());
  console.log(`first build (cold, writes incremental state): ${ms(first)}`);
  // Bazel leaves its outputs read-only.
  await sh(`find '${work}/incr' '${work}/out' -type f -exec chmod a-w {} +`);
  editOneFunction(`${work}/src`, 2);
  console.log("changed one line in one function body (src/m0.rs)");
  await sh(`cp -a '${work}' '${before}'`);

  const cold: number[] = [];
  const seeded: { seed: number; compile: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which rebuild goes first, so neither always runs on a warmer machine.
    const order = round % 2 === 0 ? ["cold", "seeded"] : ["seeded", "cold"];
    for (const kind of order) {
      await restore(work, before);
      if (kind === "cold") cold.push(await coldRebuild(work));
      else seeded.push(await seededRebuild(work));
    }
  }
  const totals = seeded.map(({ seed, compile }) => seed + compile);
  console.log(`\nrebuild after the edit, median of ${ROUNDS} rounds (each sample in brackets):`);
  console.log(`  cold:   ${ms(median(cold))} [${cold.map(ms).join(", ")}]`);
  console.log(
    `  seeded: ${ms(median(totals))} [${totals.map(ms).join(", ")}]: seed action ${
      ms(median(seeded.map(({ seed }) => seed)))
    } + compile action ${ms(median(seeded.map(({ compile }) => compile)))}`,
  );
  const reuse = sessionReuse(`${work}/incr`);
  console.log(
    `objects rustc reused from the seed: ${reuse.reused} of ${reuse.objects}. Why faster: rustc ` +
      "found its previous session, recompiled only the code the edit touched, and kept the rest.",
  );

  const unused = Deno.readTextFileSync(`${work}/unused_inputs.txt`);
  console.log(`\nunused_inputs.txt: ${JSON.stringify(unused)}`);
  console.log(
    "  Bazel's unused_inputs_list: inputs named there are left out of the compile action's " +
      "cache key, so a seed that differs every build never makes the action rerun by itself.",
  );

  const reportText = Deno.readTextFileSync(`${work}/seed_report.json`);
  const report = JSON.parse(reportText);
  console.log(`\nseed_report.json (last seeded run): ${reportText}`);
  const freshLocks = report.files - report.linked - report.copied;
  console.log(
    [
      `  files ${report.files} = linked ${report.linked} + copied ${report.copied} + ` +
      `${freshLocks} fresh lock file(s), one per session: rustc must open a session's lock ` +
      "read-write, so each gets a new empty one, never a link of the seed's.",
      "  linked: files rustc only replaces (dep-graph, query cache, work products, metadata).",
      "  copied: object files, made writable (rustc refuses read-only reused objects).",
      `  sessions ${report.sessions}: only the newest finished session of each crate is seeded.`,
      "  bytes_counted: bytes counted against --seed-min-mb (0 here: no threshold to reach).",
    ].join("\n"),
  );
} finally {
  await sh(`chmod -R u+w '${work}' '${before}' 2>/dev/null; rm -rf '${work}' '${before}'`);
}
