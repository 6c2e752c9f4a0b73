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
import { dirname } from "node:path";
import {
  bazelCommand,
  type BazelRunner,
  parseExecutionLog,
  prepareBazelWorkspace,
  REPO,
} from "../fixtures/bazel.ts";
import { run, RUSTC, tempDir } from "./helpers.ts";
import { isDirectory } from "../mod/seed/mod.ts";

const THIRD_PARTY = `${REPO}/../shared/third_party`;
const RULES_JAVA = "/usr/share/bazel/rules/java";
const BUILD_TIMEOUT_MS = 600_000;

const missing = [`${THIRD_PARTY}/rules_rust-0.9.0`, `${THIRD_PARTY}/tinyjson-2.3.0`].find((path) =>
  !isDirectory(path)
);

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
    // Building rules_rust's own wrapper (and its JSON crate) is the one difference by design.
    .filter((spawn) =>
      !(spawn.listedOutputs ?? []).some((path) => /process_wrapper|rules_rust_tinyjson/.test(path))
    )
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
  return { exitCode: output.code, actions, diagnostics: actionOutputs(stderr), wrappers, stderr };
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

/** The patch users apply to rules_rust 0.9.0: the process wrapper becomes a label flag. */
const PATCH_0_9_0 = `${REPO}/patches/rules_rust-0.9.0-process_wrapper-label_flag.patch`;

/** This wrapper, chosen through the patched rules_rust's flag, as a user's .bazelrc would. */
const USE_THIS_WRAPPER =
  "--@rules_rust//util/process_wrapper=@deno_process_wrapper//:process_wrapper";

/** A readable copy of rules_rust 0.9.0 under `path`, patched as a user would when `patched`. */
async function copyRulesRust(path: string, patched: boolean): Promise<void> {
  const copied = await run("cp", ["-r", `${THIRD_PARTY}/rules_rust-0.9.0`, path]);
  if (copied.code !== 0) throw new Error(`copying rules_rust: ${copied.stderr}`);
  if (!patched) return;
  const applied = await run("git", ["apply", PATCH_0_9_0], { cwd: path });
  if (applied.code !== 0) throw new Error(`git apply ${PATCH_0_9_0}: ${applied.stderr}`);
}

Deno.test({
  name: "real rules_rust 0.9.0: its own wrapper and this one build the same, action for action",
  ignore: RUSTC === undefined || missing !== undefined,
  async fn(t) {
    if (!isDirectory(RULES_JAVA)) await installRulesJava();
    await using dir = await tempDir("pw-rules-rust-");
    // Both workspaces live below: `nobody` must be able to reach them.
    Deno.chmodSync(dir.path, 0o755);
    const runners: Record<"own" | "deno", BazelRunner> = {} as never;
    let sysroot = "";
    for (const kind of ["own", "deno"] as const) {
      const root = `${dir.path}/${kind}`;
      Deno.mkdirSync(root);
      runners[kind] = await prepareBazelWorkspace(root, {
        timeoutMs: BUILD_TIMEOUT_MS,
        fill: async (ws) => {
          await run("cp", ["-r", `${REPO}/e2e/rules_rust`, ws]);
          await copyRulesRust(`${root}/rules_rust`, kind === "deno");
        },
        workspaceFile: ({ wrapper, deno, rustc }) => {
          sysroot = dirname(dirname(rustc));
          return Deno.readTextFileSync(`${REPO}/e2e/rules_rust/WORKSPACE.template`)
            .replaceAll("@@RULES_RUST@@", `${root}/rules_rust`)
            .replaceAll("@@THIRD_PARTY@@", Deno.realPathSync(THIRD_PARTY))
            .replaceAll("@@COVERAGE_STUB@@", `${root}/ws/coverage_stub`)
            .replaceAll("@@SYSROOT@@", sysroot)
            .replaceAll("@@WRAPPER@@", wrapper)
            .replaceAll("@@DENO@@", deno);
        },
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
        const { own, deno } = await both(["build", "//broken"]);
        assert.equal(own.exitCode, 1);
        sameAs("compile error", own, deno);
        assert.ok(
          own.diagnostics.some((block) => block.includes("error[E0308]: mismatched types")),
          own.diagnostics.join("\n---\n"),
        );
      });
    } finally {
      for (const runner of Object.values(runners)) {
        await bazelCommand(runner, ["shutdown"]).output();
      }
    }
  },
});

async function installRulesJava(): Promise<void> {
  console.log(`${RULES_JAVA} is missing: installing Debian's bazel-rules-java with apt`);
  const result = await run("apt-get", ["install", "-y", "bazel-rules-java"], {
    env: { DEBIAN_FRONTEND: "noninteractive", PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
  });
  if (result.code !== 0) throw new Error(`apt-get install bazel-rules-java: ${result.stderr}`);
}

if (missing !== undefined) {
  console.log(`skipped: real rules_rust end to end needs ${missing} (../shared/third_party)`);
}
