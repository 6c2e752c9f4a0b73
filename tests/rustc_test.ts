/**
 * The wrapper in front of the real rustc, as rules_rust runs it:
 * `--error-format=json --json=artifacts`, both output formats, pipelining.
 */

import assert from "node:assert/strict";
import { reaped, runWrapper, RUSTC, startWorker, tempDir, within } from "./helpers.ts";
import { writeCrate } from "../fixtures/gen_crate.ts";

const ignore = RUSTC === undefined;
const JSON_FLAGS = ["--error-format=json", "--json=artifacts"];

const WARNING_CRATE = "pub fn used() -> u32 { let unused_variable = 1; 2 }\n";

Deno.test({
  name: "rustc warnings come out rendered, or as JSON lines, and the rlib is built",
  ignore,
  async fn() {
    await using dir = await tempDir();
    Deno.writeTextFileSync(`${dir.path}/lib.rs`, WARNING_CRATE);
    const base = [
      RUSTC!,
      "--crate-type=rlib",
      "--crate-name=warn",
      "lib.rs",
      "--out-dir=out",
      ...JSON_FLAGS,
    ];
    const rendered = await runWrapper(["--rustc-output-format", "rendered", "--", ...base], {
      cwd: dir.path,
    });
    assert.deepEqual(rendered.code, 0, rendered.stderr);
    assert.ok(
      rendered.stderr.includes("warning: unused variable: `unused_variable`"),
      rendered.stderr,
    );
    assert.deepEqual(rendered.stderr.includes('"$message_type"'), false);
    assert.ok(Deno.statSync(`${dir.path}/out/libwarn.rlib`).size > 0);

    const json = await runWrapper(["--rustc-output-format", "json", "--", ...base], {
      cwd: dir.path,
    });
    assert.deepEqual(json.code, 0, json.stderr);
    const messages = json.stderr.trimEnd().split("\n").map((line) => JSON.parse(line));
    assert.ok(
      messages.some((m) =>
        m.$message_type === "diagnostic" && m.message.includes("unused variable")
      ),
    );
    assert.deepEqual(messages.some((m) => m.$message_type === "artifact"), false);
  },
});

Deno.test({
  name: "a compile error gives rustc's exit code and the rendered error",
  ignore,
  async fn() {
    await using dir = await tempDir();
    Deno.writeTextFileSync(`${dir.path}/lib.rs`, 'pub fn broken() -> u32 { "text" }\n');
    const result = await runWrapper([
      "--rustc-output-format",
      "rendered",
      "--touch-file",
      "ok.marker",
      "--",
      RUSTC!,
      "--crate-type=rlib",
      "lib.rs",
      "--out-dir=out",
      ...JSON_FLAGS,
    ], { cwd: dir.path });
    assert.deepEqual(result.code, 1);
    assert.ok(result.stderr.includes("error[E0308]: mismatched types"), result.stderr);
    assert.deepEqual(result.stderr.includes("process wrapper error"), false);
    assert.deepEqual([...Deno.readDirSync(dir.path)].some((e) => e.name === "ok.marker"), false);
  },
});

Deno.test({
  name: "quit-on-rmeta leaves the .rmeta and exits 0 before the .rlib is written",
  ignore,
  async fn() {
    await using dir = await tempDir();
    // Heavy enough codegen (optimised, many generic instances) that the rlib comes long after the rmeta.
    writeCrate(`${dir.path}/src`, { modules: 8, functionsPerModule: 120 });
    const result = await runWrapper([
      "--rustc-quit-on-rmeta",
      "true",
      "--rustc-output-format",
      "rendered",
      "--output-file",
      "rmeta.stderr",
      "--",
      RUSTC!,
      "--crate-type=rlib",
      "--crate-name=big",
      "src/lib.rs",
      "--emit=metadata,link",
      "-Copt-level=2",
      "--out-dir=out",
      ...JSON_FLAGS,
    ], { cwd: dir.path });
    assert.deepEqual(result.code, 0, result.stderr);
    assert.ok(Deno.statSync(`${dir.path}/out/libbig.rmeta`).size > 0);
    assert.deepEqual(
      [...Deno.readDirSync(`${dir.path}/out`)].some((e) => e.name === "libbig.rlib"),
      false,
    );
    assert.ok(Deno.readTextFileSync(`${dir.path}/rmeta.stderr`).includes('"emit":"metadata"'));
  },
});

Deno.test({
  name: "a compile error under --rustc-quit-on-rmeta fails with rustc's diagnostic: one-shot " +
    "exit 1, worker exitCode 1",
  ignore,
  async fn() {
    await using dir = await tempDir();
    Deno.writeTextFileSync(`${dir.path}/lib.rs`, 'pub fn broken() -> u32 { "text" }\n');
    Deno.mkdirSync(`${dir.path}/out`);
    // A pipelined metadata action as rules_rust runs it; rustc never writes the .rmeta here.
    const metadataAction = [
      "--rustc-quit-on-rmeta",
      "true",
      "--rustc-output-format",
      "rendered",
      "--touch-file",
      "ok.marker",
      "--",
      RUSTC!,
      "--crate-type=rlib",
      "--crate-name=broken",
      "lib.rs",
      "--emit=dep-info,metadata,link",
      "--out-dir=out",
      ...JSON_FLAGS,
    ];
    const oneShot = await runWrapper(metadataAction, { cwd: dir.path });
    assert.equal(oneShot.code, 1, oneShot.stderr);
    assert.match(oneShot.stderr, /error\[E0308\]: mismatched types/);
    assert.equal(oneShot.stderr.includes('"$message_type"'), false, "rendered, not JSON");
    assert.throws(() => Deno.statSync(`${dir.path}/ok.marker`));

    const worker = startWorker(dir.path, { stdout: "piped", stderr: "null" });
    await using _reaped = reaped(worker);
    const writer = worker.stdin.getWriter();
    await writer.write(
      new TextEncoder().encode(JSON.stringify({ arguments: metadataAction, requestId: 1 }) + "\n"),
    );
    await writer.close();
    const output = await within(worker.output(), 60_000, "the worker's answer and exit");
    const answer = JSON.parse(new TextDecoder().decode(output.stdout));
    assert.equal(answer.exitCode, 1, answer.output);
    assert.match(answer.output, /error\[E0308\]: mismatched types/);
    assert.throws(() => Deno.statSync(`${dir.path}/ok.marker`));
  },
});
