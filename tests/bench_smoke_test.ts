/**
 * `deno task bench` runs end to end (in its quick mode) and records every
 * section it prints. Its numbers are not judged here: benchmarks are not
 * timed tests.
 */

import assert from "node:assert/strict";
import { RUSTC, tempDir } from "./helpers.ts";

const BENCH = new URL("../bench/main.ts", import.meta.url).pathname;

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
    for (const samples of Object.values(editLoop.bazel_ms) as number[][]) {
      assert.ok(samples.length === editLoop.rounds && samples.every((ms) => ms > 0));
    }
    assert.equal(editLoop.cargo_incremental_ms.length, editLoop.rounds);
    assert.equal(editLoop.rustc_persistent_chain_ms.length, editLoop.rounds);
    for (
      const samples of [editLoop.big_crate_store_action_ms, editLoop.big_crate_rustc_persistent_ms]
    ) {
      assert.ok(samples.length === editLoop.rounds && samples.every((ms: number) => ms > 0));
    }
    assert.ok(recorded.machine.includes("cores"));
  },
});
