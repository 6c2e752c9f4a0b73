/**
 * `deno task bench` runs end to end (in its quick mode) and records every
 * section it prints. Its numbers are not judged here: benchmarks are not
 * timed tests.
 */

import assert from "node:assert/strict";
import type { GraphResult } from "../bench/bazel_edit_loop.ts";
import { missingThirdParty } from "../fixtures/rules_rust.ts";
import { RUSTC, tempDir } from "./helpers.ts";

const BENCH = new URL("../bench/main.ts", import.meta.url).pathname;
const missing = missingThirdParty();

Deno.test({
  name: "the benchmark runs and records every section with its raw samples",
  ignore: RUSTC === undefined,
  async fn() {
    await using dir = await tempDir();
    const results = `${dir.path}/results.json`;
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", BENCH],
      env: { BENCH_QUICK: "1", BENCH_RESULTS: results },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const printed = new TextDecoder().decode(run.stdout);
    assert.deepEqual(run.code, 0, new TextDecoder().decode(run.stderr));
    const headings = [
      "1. Wrapper overhead",
      "2. Persistent worker",
      "3. Incremental payoff",
      "4. Seeding",
      "5. JSON",
      "6. The edit loop under Bazel",
    ];
    // Every section, in order.
    const positions = headings.map((heading) => printed.indexOf(`\n${heading}`));
    assert.ok(positions.every((at) => at >= 0), `missing a section in:\n${printed}`);
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
    const recorded = JSON.parse(Deno.readTextFileSync(results));
    assert.ok(recorded.overhead.samples_ms["main.ts -- /bin/true"].length >= 10);
    assert.ok(recorded.worker.per_request_ms.length >= 100);
    assert.equal(typeof recorded.worker.parse_40_mib_request_ms, "number");
    assert.match(printed, /finding a 40 MiB request in 64 KiB reads: \d+ ms/);
    assert.ok(recorded.payoff.seeded_ms.every((ms: number) => ms > 0));
    assert.deepEqual(
      recorded.seeding.map((row: { files: number }) => row.files).slice(0, 2),
      [1000, 10000],
    );
    assert.ok(recorded.json.every((row: { peak_rss_kib: number }) => row.peak_rss_kib > 0));
    const editLoop = recorded.bazel_edit_loop;
    if (missing !== undefined) {
      assert.equal(editLoop, undefined);
      assert.match(printed, /skipped: .* not found/);
    } else {
      assert.deepEqual(Object.keys(editLoop.graphs), ["chain", "wide"]);
      for (const [name, graph] of Object.entries(editLoop.graphs) as [string, GraphResult][]) {
        for (const mode of Object.keys(editLoop.modes)) {
          for (const samples of [graph.bazel_ms[mode], graph.edited_action_ms[mode]]) {
            assert.ok(samples.length === editLoop.rounds && samples.every((ms) => ms > 0), mode);
          }
          // Each mode's own output base: an edit recompiles the edited crate and its dependents.
          assert.deepEqual(
            graph.rustc_actions[mode],
            Array(editLoop.rounds).fill(graph.rebuilt.length),
            `${name}, ${mode}`,
          );
        }
        for (
          const samples of [
            graph.cargo_incremental_ms,
            graph.cargo_incremental_bazel_linker_ms,
            graph.cargo_non_incremental_ms,
            graph.rustc_persistent_ms,
            graph.edited_rustc_persistent_ms,
          ]
        ) {
          assert.ok(samples.length === editLoop.rounds && samples.every((ms) => ms > 0), name);
        }
        assert.equal(graph.targets.length, 7);
        // The linker of the binary's Rustc action (Bazel's C++ toolchain), given to cargo as well.
        assert.match(graph.bazel_linker.linker, /^\//);
        assert.ok(graph.bazel_linker.link_args.length > 0, name);
        assert.ok(graph.targets.every((target) => target.ratio > 0), name);
        assert.match(printed, new RegExp(`\\n   ${name}: .* libraries \\+ a binary`));
      }
    }
    assert.ok(recorded.machine.includes("cores"));
  },
});
