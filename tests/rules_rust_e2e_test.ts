/**
 * The drop-in, proven on rules_rust itself: the workspace `e2e/rules_rust`
 * is built by real rules_rust 0.9.0 (from `../shared/third_party`) twice, as
 * the unprivileged user `nobody`: once with rules_rust's own process wrapper
 * (built from source), once with this wrapper swapped in the way the README
 * tells users: rules_rust patched with `patches/` (its process wrapper becomes
 * a label flag) and the flag set. Both copies of rules_rust are made by the
 * test. Every action's exit code, the program
 * outputs, the test results and Bazel's printed diagnostics must be the same.
 */

import assert from "node:assert/strict";
import {
  bazelCommand,
  type BazelRunner,
  parseExecutionLog,
  type Spawn,
} from "../fixtures/bazel.ts";
import {
  missingThirdParty,
  prepareRulesRustWorkspace,
  USE_THIS_WRAPPER,
} from "../fixtures/rules_rust.ts";
import { run, RUSTC, tempDir } from "./helpers.ts";

const BUILD_TIMEOUT_MS = 600_000;

const missing = missingThirdParty();

const CLIPPY_AND_RUSTFMT = [
  "--aspects=@rules_rust//rust:defs.bzl%rust_clippy_aspect,@rules_rust//rust:defs.bzl%rustfmt_aspect",
  "--output_groups=+clippy_checks,+rustfmt_checks",
];

/** What one Bazel command did, reduced to what must not depend on the wrapper. */
interface Observed {
  readonly exitCode: number;
  /** Every action's mnemonic, outputs and exit code, sorted. */
  readonly actions: string[];
  /** What Bazel printed of the actions' output, block by block, sorted. */
  readonly diagnostics: string[];
  /** The process wrappers the Rustc actions ran, sorted. */
  readonly wrappers: string[];
  /** Every spawn, as the execution log gives it. */
  readonly spawns: Spawn[];
}

/** Runs one Bazel command with an execution log and reduces what it did. */
async function observe(
  runner: BazelRunner,
  args: string[],
): Promise<Observed & { stderr: string }> {
  const log = `${runner.home}/exec-${crypto.randomUUID()}.json`;
  const [command, ...rest] = args;
  const output = await bazelCommand(runner, [
    command,
    "--curses=no",
    "--color=no",
    `--execution_log_json_file=${log}`,
    ...rest,
  ]).output();
  const stderr = new TextDecoder().decode(output.stderr);
  let logText: string;
  try {
    logText = Deno.readTextFileSync(log);
  } catch {
    throw new Error(`bazel ${args.join(" ")} wrote no execution log: ${stderr}`);
  }
  const spawns = parseExecutionLog(logText);
  const actions = spawns
    .filter((spawn) => !buildsOwnWrapper(spawn))
    .map((spawn) =>
      `${spawn.mnemonic} ${(spawn.listedOutputs ?? []).map(normalizePath).sort().join(" ")} exit ${
        spawn.exitCode ?? 0
      }`
    ).sort();
  const wrappers = [
    ...new Set(
      spawns.filter((spawn) => spawn.mnemonic === "Rustc").map((s) => s.commandArgs[0])
        .filter((program) => program.includes("process_wrapper")),
    ),
  ].sort();
  return {
    exitCode: output.code,
    actions,
    diagnostics: actionOutputs(stderr),
    wrappers,
    spawns,
    stderr,
  };
}

/**
 * Each rustc action's mnemonic, command line and environment, sorted; the wrapper's executable
 * is named alike (the patch renames rules_rust's own to make room for the label flag).
 */
function commandLines(spawns: readonly Spawn[]): string[] {
  return spawns
    .filter((spawn) => spawn.mnemonic.startsWith("Rustc") && !buildsOwnWrapper(spawn))
    .map((spawn) =>
      [
        spawn.mnemonic,
        ...spawn.commandArgs,
        ...(spawn.environmentVariables ?? []).map(({ name, value }) => `${name}=${value}`),
      ].join(" ").replaceAll("/process_wrapper_rust ", "/process_wrapper ")
    )
    .sort();
}

/** Building rules_rust's own wrapper (and its JSON crate) is the one difference by design. */
function buildsOwnWrapper(spawn: Spawn): boolean {
  return (spawn.listedOutputs ?? []).some((path) =>
    /process_wrapper|rules_rust_tinyjson/.test(path)
  );
}

/** Output paths without the configuration's hash, which differs with the wrapper's label. */
function normalizePath(path: string): string {
  return path.replace(/-ST-[0-9a-f]+/, "-ST-*");
}

/**
 * The blocks Bazel prints for actions' output ("INFO: From ...:" or "ERROR: ...:" then the
 * text), without what describes the machine rather than the build: progress and timing lines,
 * the sandbox's debug lines, and the failed command's echo (its paths name the workspace).
 * rules_rust's own wrapper being compiled is left out: only that build has it.
 */
function actionOutputs(stderr: string): string[] {
  const blocks: string[] = [];
  let current: string[] | undefined;
  for (const line of stderr.split("\n")) {
    if (/^(INFO|ERROR|WARNING|DEBUG|FAIL|PASSED|Target |Loading|Analyzing|Use --)/.test(line)) {
      if (current) blocks.push(current.join("\n"));
      // The workspace's own path differs between the two builds.
      current = /^(INFO: From |ERROR: .*: )/.test(line)
        ? [line.replace(/\/\S+\/(own|deno)\/ws\//, "WORKSPACE/")]
        : undefined;
      continue;
    }
    const noise = /^\d+\.\d+: src\/main\/tools\//.test(line) || /^\[\d+ \/ \d+\]/.test(line) ||
      /^\s+\S*linux-sandbox /.test(line) || /^\s+\(cd /.test(line) ||
      /^\s+exec env - \\$/.test(line) || / \\$/.test(line) || /^\s+bazel-(bin|out)\//.test(line);
    if (!noise) current?.push(line);
  }
  if (current) blocks.push(current.join("\n"));
  return blocks.map((block) => block.trimEnd())
    .filter((block) => block.includes("\n") && !block.includes("process_wrapper (6 files)"))
    .sort();
}

Deno.test({
  name: "real rules_rust 0.9.0: its own wrapper and this one build the same, action for action",
  ignore: RUSTC === undefined || missing !== undefined,
  async fn(t) {
    await using dir = await tempDir("pw-rules-rust-");
    // Both workspaces live below: `nobody` must be able to reach them.
    Deno.chmodSync(dir.path, 0o755);
    const runners: Record<"own" | "deno", BazelRunner> = {} as never;
    for (const kind of ["own", "deno"] as const) {
      const root = `${dir.path}/${kind}`;
      Deno.mkdirSync(root);
      runners[kind] = await prepareRulesRustWorkspace(root, {
        patched: kind === "deno",
        timeoutMs: BUILD_TIMEOUT_MS,
      });
    }
    const both = async (args: string[]) => {
      const own = await observe(runners.own, args);
      const deno = await observe(runners.deno, [...args, USE_THIS_WRAPPER]);
      return { own, deno };
    };
    const sameAs = (what: string, own: Observed, deno: Observed) => {
      assert.equal(deno.exitCode, own.exitCode, `${what}: Bazel's exit code`);
      assert.deepEqual(deno.actions, own.actions, `${what}: actions and their exit codes`);
      assert.deepEqual(deno.diagnostics, own.diagnostics, `${what}: printed diagnostics`);
    };

    try {
      await t.step(
        "pipelined, stamped build with clippy and rustfmt: the same actions",
        async () => {
          const { own, deno } = await both([
            "build",
            "//app/...",
            "//lib/...",
            "//macros/...",
            "--@rules_rust//rust/settings:pipelined_compilation=true",
            "--stamp",
            ...CLIPPY_AND_RUSTFMT,
          ]);
          assert.equal(own.exitCode, 0, own.stderr);
          sameAs("build", own, deno);
          // Each ran its own wrapper: the flag chose this one.
          assert.ok(
            own.wrappers.every((path) => path.includes("/rules_rust/util/process_wrapper/")),
            own.wrappers.join(),
          );
          assert.ok(
            deno.wrappers.length > 0 &&
              deno.wrappers.every((path) => path.includes("/deno_process_wrapper/process_wrapper")),
            deno.wrappers.join(),
          );
          // What both must have run.
          for (const mnemonic of ["RustcMetadata", "CargoBuildScriptRun", "Clippy", "Rustfmt"]) {
            assert.ok(own.actions.some((action) => action.startsWith(mnemonic)), mnemonic);
          }
        },
      );

      await t.step(
        "the patch with its settings at their defaults: every action and command line as unpatched",
        async () => {
          // rules_rust's own wrapper in both: the patched copy without the wrapper flag. Both
          // start from nothing, so that each runs every action.
          for (const runner of Object.values(runners)) {
            assert.equal((await bazelCommand(runner, ["clean"]).output()).code, 0);
          }
          const args = [
            "build",
            "//app/...",
            "//chain/...",
            "//lib/...",
            "//macros/...",
            "--@rules_rust//rust/settings:pipelined_compilation=true",
            "--stamp",
          ];
          const [own, patched] = [
            await observe(runners.own, args),
            await observe(runners.deno, args),
          ];
          assert.equal(own.exitCode, 0, own.stderr);
          assert.equal(patched.exitCode, 0, patched.stderr);
          const rustc = commandLines(own.spawns);
          assert.ok(rustc.some((line) => line.startsWith("RustcMetadata ")), rustc.join("\n"));
          assert.deepEqual(commandLines(patched.spawns), rustc);
        },
      );

      await t.step(
        "the program: build script, proc-macro, stamped with the building user",
        async () => {
          for (const kind of ["own", "deno"] as const) {
            const ran = await run(`${runners[kind].workspace}/bazel-bin/app/app`, []);
            assert.equal(ran.code, 0, ran.stderr);
            assert.equal(ran.stdout, "hello app (42, 42, cfg on)\nbuilt by nobody\n", kind);
          }
        },
      );

      await t.step("rust_test and rust_doc_test pass with both", async () => {
        const { own, deno } = await both(["test", "//lib/..."]);
        // rules_rust 0.9.0 runs a doc test under `env -`: rustdoc makes its temporary directory
        // in /tmp, which only a world-writable /tmp allows `nobody`. Elsewhere both fail alike.
        const tmpWritable = (Deno.statSync("/tmp").mode! & 0o002) !== 0;
        for (const [kind, result] of [["own", own], ["deno", deno]] as const) {
          const logs = `${runners[kind].workspace}/bazel-testlogs/lib`;
          const docTest = Deno.readTextFileSync(`${logs}/polite_doc_test/test.log`);
          if (tmpWritable) {
            assert.equal(result.exitCode, 0, `${kind}: ${docTest}`);
            assert.match(docTest, /test result: ok\. 1 passed/, `${kind}: ${docTest}`);
          } else {
            assert.match(docTest, /failed to create temporary directory/, `${kind}: ${docTest}`);
          }
          const unitTest = Deno.readTextFileSync(`${logs}/greeter_test/test.log`);
          assert.match(unitTest, /test tests::greets \.\.\. ok/, `${kind}: ${unitTest}`);
        }
        assert.equal(deno.exitCode, own.exitCode);
      });

      await t.step("a warning, with error_format=human and json: printed alike", async () => {
        for (const format of ["human", "json"]) {
          const { own, deno } = await both([
            "build",
            "//warn",
            `--@rules_rust//:error_format=${format}`,
            "--@rules_rust//rust/settings:pipelined_compilation=true",
          ]);
          assert.equal(own.exitCode, 0, own.stderr);
          sameAs(`warning, ${format}`, own, deno);
          assert.ok(
            own.diagnostics.some((block) => block.includes("unused variable: `unused`")),
            own.diagnostics.join("\n---\n"),
          );
        }
      });

      await t.step("a compile error: the same failure, the same error printed", async () => {
        for (const pipelined of [false, true]) {
          // Going on after the first failure, every action ends and is logged. An error in a body
          // comes after rustc wrote the .rmeta, one in a signature before: with pipelining the
          // metadata action (killed once the .rmeta is written) must fail on the second only.
          const { own, deno } = await both([
            "build",
            "//broken/...",
            `--@rules_rust//rust/settings:pipelined_compilation=${pipelined}`,
            "--keep_going",
          ]);
          assert.equal(own.exitCode, 1);
          sameAs(`compile error, pipelined=${pipelined}`, own, deno);
          for (
            const error of [
              "error[E0308]: mismatched types",
              "error[E0425]: cannot find type `Missing`",
            ]
          ) {
            assert.ok(
              own.diagnostics.some((block) => block.includes(error)),
              own.diagnostics.join("\n---\n"),
            );
          }
          const failed = deno.spawns.filter((spawn) => (spawn.exitCode ?? 0) !== 0)
            .map((spawn) =>
              `${spawn.mnemonic} ${
                (spawn.listedOutputs ?? []).some((path) => path.includes("signature"))
                  ? "signature"
                  : "body"
              }`
            ).sort();
          assert.deepEqual(
            failed,
            pipelined
              ? ["Rustc body", "Rustc signature", "RustcMetadata signature"]
              : ["Rustc body", "Rustc signature"],
          );
        }
      });
    } finally {
      for (const runner of Object.values(runners)) {
        await bazelCommand(runner, ["shutdown"]).output();
      }
    }
  },
});

if (missing !== undefined) {
  console.log(`skipped: real rules_rust end to end needs ${missing} (../shared/third_party)`);
}
