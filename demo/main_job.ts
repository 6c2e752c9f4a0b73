/**
 * The main job (`deno task demo`): builds a generated crate through the
 * wrapper with `-Cincremental`, changes one line, then rebuilds it twice from
 * the same starting point, exactly as Bazel would run the actions:
 *
 * - cold: the compile action alone, into an empty incremental directory;
 * - seeded: the seed action (`--seed-prev-dir ... --exit-early true`), then
 *   the compile action (`--copy-seed ... --write-unused-inputs ...`).
 *
 * It prints both rebuild times, how many objects rustc reused, and the seed
 * report.
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
  await new Deno.Command("sh", { args: ["-c", command] }).output();
}

const work = await Deno.makeTempDir({ prefix: "pw-demo-" });
try {
  const lines = writeCrate(`${work}/src`, SHAPE);
  console.log(`generated a ${lines}-line crate in ${work}/src`);
  const first = await wrapper(work, compileArgs());
  console.log(`first build (cold, writes incremental state): ${first.toFixed(0)} ms`);
  // Bazel leaves its outputs read-only.
  await sh(`find '${work}/incr' '${work}/out' -type f -exec chmod a-w {} +`);
  await sh(`cp -a '${work}' '${work}.before'`);

  editOneFunction(`${work}/src`, 2);
  await sh(`cp '${work}/src/m0.rs' '${work}.before/src/m0.rs'`);
  console.log("changed one line in one function body (src/m0.rs)");

  // Cold rebuild: Bazel wiped the outputs and nothing seeds them.
  await sh(`rm -rf '${work}/incr' '${work}/out'`);
  const cold = await wrapper(work, compileArgs());

  // Seeded rebuild from the same starting point, in the same directory
  // (rustc discards its cache when the working directory changes).
  await sh(`rm -rf '${work}' && mv '${work}.before' '${work}'`);
  const seedStep = await wrapper(work, seedActionArgs("incr", "seed", 0));
  await sh(
    `find '${work}/seed' -type f -exec chmod a-w {} + ; rm -rf '${work}/incr' '${work}/out'`,
  );
  const compileStep = await wrapper(work, [
    ...compileActionArgs("seed", "incr", "unused_inputs.txt", 0),
    "--seed-report",
    "seed_report.json",
    ...compileArgs(),
  ]);
  console.log(`\nrebuild, cold:   ${cold.toFixed(0)} ms`);
  console.log(
    `rebuild, seeded: ${(seedStep + compileStep).toFixed(0)} ms ` +
      `(seed action ${seedStep.toFixed(0)} ms + compile action ${compileStep.toFixed(0)} ms)`,
  );
  const reuse = sessionReuse(`${work}/incr`);
  console.log(`objects rustc reused from the seed: ${reuse.reused} of ${reuse.objects}`);
  console.log(
    `unused_inputs_list: ${JSON.stringify(Deno.readTextFileSync(`${work}/unused_inputs.txt`))}`,
  );
  console.log(`seed report: ${Deno.readTextFileSync(`${work}/seed_report.json`)}`);
} finally {
  await sh(
    `chmod -R u+w '${work}' '${work}.before' 2>/dev/null; rm -rf '${work}' '${work}.before'`,
  );
}
