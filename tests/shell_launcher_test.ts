/**
 * The `process_wrapper` command for shell users (`scripts/process_wrapper`,
 * installed by `deno task install-wrapper`): every argument reaches the
 * wrapper (no Node process sees them), it finds its Deno, and it grants what
 * the Bazel launcher grants. Real processes throughout.
 */

import assert from "node:assert/strict";
import { REPO } from "../fixtures/bazel.ts";
import { RUNTIME_PERMISSIONS } from "../scripts/compile.ts";
import { LAUNCHER } from "../scripts/install_wrapper.ts";
import { run, type RunResult, sigtermThreeLevels, tempDir, threeLevelChild } from "./helpers.ts";

const REPOSITORY = REPO.replace(/\/$/, "");
const BOUND_MS = 60_000;
/** No deno here (it is in /usr/local/bin on the test machines): the launcher must find its own. */
const SYSTEM_PATH = "/usr/bin:/bin";

/** The launcher, run as a shell user would: the given environment only. */
function launch(
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; command?: string } = {},
): Promise<RunResult> {
  return run(options.command ?? LAUNCHER, args, {
    cwd: options.cwd,
    clearEnv: true,
    env: { PATH: SYSTEM_PATH, DENO: Deno.execPath(), ...options.env },
    timeoutMs: BOUND_MS,
  });
}

/** The `--allow-*` flags of one line of text, in order. */
const allowFlags = (text: string) =>
  [...text.matchAll(/--allow-[a-z-]+(=[a-z,]+)?/g)].map((m) => m[0]);

Deno.test("the shell command, the wrapper task and deno compile grant exactly the Bazel launcher's permissions", () => {
  const defs = Deno.readTextFileSync(`${REPOSITORY}/tools/defs.bzl`);
  const bazel = JSON.parse(defs.match(/^_PERMISSIONS = (\[.*\])$/m)![1]);
  assert.deepEqual(bazel, ["--allow-all"]);
  const launcher = Deno.readTextFileSync(LAUNCHER);
  assert.deepEqual(allowFlags(launcher.slice(launcher.lastIndexOf("exec "))), bazel);
  const tasks = JSON.parse(Deno.readTextFileSync(`${REPOSITORY}/deno.json`)).tasks;
  assert.deepEqual(allowFlags(tasks.wrapper), bazel);
  assert.deepEqual(RUNTIME_PERMISSIONS, bazel);
});

Deno.test("with those permissions the wrapper sees its child's descendants: SIGTERM ends all three levels, exit 143", async () => {
  await using dir = await tempDir();
  // Deno 2 reads /proc/<pid>/ only with --allow-all: with less, the grandchildren would live on.
  const wrapper = new Deno.Command(LAUNCHER, {
    args: ["--", ...threeLevelChild(dir.path)],
    cwd: dir.path,
    clearEnv: true,
    env: { PATH: SYSTEM_PATH, DENO: Deno.execPath() },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  assert.deepEqual(await sigtermThreeLevels(wrapper, dir.path), { code: 143, alive: [] });
});

Deno.test("--env-file that is missing: the wrapper's own one-line error naming the file, from any directory", async () => {
  await using dir = await tempDir();
  const absolute = await launch(["--env-file", `${dir.path}/gone.env`, "--", "/bin/true"]);
  assert.equal(absolute.code, 1);
  assert.equal(
    absolute.stderr,
    `process wrapper error: --env-file ${dir.path}/gone.env: cannot read file ` +
      `(NotFound: No such file or directory (os error 2): open '${dir.path}/gone.env')\n`,
  );
  const relative = await launch(["--env-file", "gone.env", "--", "/bin/true"], { cwd: dir.path });
  assert.equal(relative.code, 1);
  assert.match(relative.stderr, /^process wrapper error: --env-file gone.env: cannot read file/);
  assert.ok(relative.stderr.endsWith(`; looked in ${dir.path})\n`), relative.stderr);
});

Deno.test("--env-file that exists, absolute or relative to the caller's directory: the child gets its variables", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/greeting.env`, "GREETING=hello from the env file\n");
  const child = ["--", "/bin/sh", "-c", 'echo "$GREETING"'];
  const absolute = await launch(["--env-file", `${dir.path}/greeting.env`, ...child]);
  assert.deepEqual(absolute, { code: 0, stdout: "hello from the env file\n", stderr: "" });
  const relative = await launch(["--env-file", "greeting.env", ...child], { cwd: dir.path });
  assert.deepEqual(relative, { code: 0, stdout: "hello from the env file\n", stderr: "" });
});

Deno.test("-- and everything after it reach the wrapper: --env-file -- is the wrapper's error, child flags are the child's", async () => {
  const empty = await launch(["--env-file", "--", "/bin/true"]);
  assert.deepEqual(empty, {
    code: 1,
    stdout: "",
    stderr: 'process wrapper error: flag "--env-file" missing parameter(s)\n',
  });
  const passed = await launch(["--", "/bin/echo", "--env-file", "x", "--", "--version"]);
  assert.deepEqual(passed, { code: 0, stdout: "--env-file x -- --version\n", stderr: "" });
});

Deno.test("without DENO, the launcher runs Deno 2.9.6 from npm's npx cache, and only that version", async () => {
  await using home = await tempDir();
  const modules = `${home.path}/.npm/_npx/0123456789abcdef/node_modules`;
  const install = (version: string) => {
    Deno.mkdirSync(`${modules}/deno`, { recursive: true });
    Deno.mkdirSync(`${modules}/@deno/linux-x64-glibc`, { recursive: true });
    Deno.writeTextFileSync(
      `${modules}/deno/package.json`,
      JSON.stringify({ name: "deno", version }, null, 2),
    );
    Deno.symlinkSync(Deno.execPath(), `${modules}/@deno/linux-x64-glibc/deno`);
  };
  const env = { HOME: home.path, DENO: "" };
  install("2.0.0");
  const wrongVersion = await launch(["--version"], { env });
  assert.equal(wrongVersion.code, 1);
  assert.equal(
    wrongVersion.stderr,
    "process wrapper error: no Deno found: run 'npx --yes deno@2.9.6 --version' once " +
      "(it puts Deno 2.9.6 in npm's cache), or set DENO=/path/to/deno\n",
  );
  await Deno.remove(`${home.path}/.npm`, { recursive: true });
  install("2.9.6");
  const found = await launch(["--version"], { env });
  assert.deepEqual(found, { code: 0, stdout: "process_wrapper 0.4.0 (deno 2.9.6)\n", stderr: "" });
});

Deno.test("a DENO that is not an executable file is one line naming it", async () => {
  const result = await launch(["--version"], { env: { DENO: "/nonexistent/deno" } });
  assert.deepEqual(result, {
    code: 1,
    stdout: "",
    stderr: "process wrapper error: DENO=/nonexistent/deno is not an executable file\n",
  });
});

Deno.test("install-wrapper: one task links DIR/process_wrapper (relative to the caller), which then runs from anywhere; a file of the user's is left alone", async () => {
  await using dir = await tempDir();
  const task = (cwd: string) =>
    run(Deno.execPath(), [
      "task",
      "--quiet",
      "--config",
      `${REPOSITORY}/deno.json`,
      "install-wrapper",
      "bin",
    ], {
      cwd,
      // The installer runs the command it installed: give it this test's Deno, wherever that is.
      // A shell's environment: no INIT_CWD of an enclosing `deno task` (the test command's).
      env: {
        DENO: Deno.execPath(),
        PATH: Deno.env.get("PATH") ?? "",
        HOME: Deno.env.get("HOME") ?? "",
      },
      clearEnv: true,
      timeoutMs: BOUND_MS,
    });
  const installed = await task(dir.path);
  assert.equal(installed.code, 0, installed.stderr);
  const command = `${dir.path}/bin/process_wrapper`;
  assert.match(
    installed.stdout,
    new RegExp(`^installed ${command} -> ${LAUNCHER}: process_wrapper`),
  );
  assert.equal(Deno.readLinkSync(command), LAUNCHER);
  Deno.writeTextFileSync(`${dir.path}/greeting.env`, "GREETING=hi\n");
  const used = await launch([
    "--env-file",
    "greeting.env",
    "--",
    "/bin/sh",
    "-c",
    'echo "$GREETING"',
  ], {
    cwd: dir.path,
    command,
  });
  assert.deepEqual(used, { code: 0, stdout: "hi\n", stderr: "" });

  await using other = await tempDir();
  Deno.mkdirSync(`${other.path}/bin`);
  Deno.writeTextFileSync(`${other.path}/bin/process_wrapper`, "#!/bin/sh\necho mine\n");
  const refused = await task(other.path);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /process_wrapper exists and is not a symlink: left alone/);
  assert.equal(
    Deno.readTextFileSync(`${other.path}/bin/process_wrapper`),
    "#!/bin/sh\necho mine\n",
  );
});

Deno.test("through the wrapper task, a relative file is looked for in the repository, and the error says so", async () => {
  await using dir = await tempDir();
  const result = await run(
    Deno.execPath(),
    [
      "task",
      "--quiet",
      "--config",
      `${REPOSITORY}/deno.json`,
      "wrapper",
      "--env-file",
      "gone.env",
      "--",
      "/bin/true",
    ],
    { cwd: dir.path, timeoutMs: BOUND_MS },
  );
  assert.equal(result.code, 1);
  assert.match(result.stderr, /process wrapper error: --env-file gone.env: cannot read file/);
  assert.ok(result.stderr.includes(`; looked in ${REPOSITORY})`), result.stderr);
});
