/**
 * The wrapper as rules_rust runs it: `deno run -A main.ts ...` in a
 * subprocess, against small child programs that report what they got.
 */

import assert from "node:assert/strict";
import { FLAG_DEFINITIONS, FORGOTTEN_SEPARATOR_HINT, VERSION } from "../mod/args/mod.ts";
import {
  existsAt,
  isAlive,
  MAIN_TS,
  run,
  runWrapper,
  tempDir,
  within,
  wrapperCommand,
  writeScript,
} from "./helpers.ts";
import { canRunUnprivileged, prepareUnprivileged } from "./unprivileged.ts";

const PRINT_ARGS = 'for a in "$@"; do printf "%s\\n" "$a"; done';

Deno.test("the child gets substituted args, arg-file lines and expanded param files", async () => {
  await using dir = await tempDir();
  const child = writeScript(
    dir.path,
    "args.sh",
    PRINT_ARGS + '\nfor a in "$@"; do case "$a" in @*) cat "${a#@}";; esac; done',
  );
  Deno.writeTextFileSync(`${dir.path}/extra.args`, "--from-file=${pwd}\n");
  Deno.writeTextFileSync(`${dir.path}/p.params`, "--in-param=${pwd}\n@q.params\n");
  Deno.writeTextFileSync(`${dir.path}/q.params`, "--nested\n");
  const result = await runWrapper(
    ["--subst", "pwd=${pwd}", "--arg-file", "extra.args", "--", child, "--x=${pwd}", "@p.params"],
    { cwd: dir.path },
  );
  assert.deepEqual(result.code, 0, result.stderr);
  assert.deepEqual(result.stdout.split("\n"), [
    `--x=${dir.path}`,
    "@p.params.expanded",
    `--from-file=${dir.path}`,
    `--in-param=${dir.path}`,
    "--nested",
    "",
  ]);
  assert.deepEqual(
    Deno.readTextFileSync(`${dir.path}/p.params.expanded`),
    `--in-param=${dir.path}\n--nested\n`,
  );
});

Deno.test(
  "a worker-capable rules_rust action run one-shot: three flagfiles, the last one rustc's",
  async () => {
    await using dir = await tempDir();
    const child = writeScript(dir.path, "args.sh", PRINT_ARGS);
    // What Bazel writes for the patched rules_rust with experimental_persistent_worker: the
    // wrapper's flags, `-- rustc`, then rustc's arguments, each a multiline param file.
    Deno.writeTextFileSync(`${dir.path}/wrapper.params`, "--subst\npwd=${pwd}\n");
    Deno.writeTextFileSync(`${dir.path}/rustc_path.params`, `--\n${child}\n`);
    Deno.writeTextFileSync(`${dir.path}/rustc.params`, "--remap-path-prefix=${pwd}=.\n");
    const result = await runWrapper(
      ["@wrapper.params", "@rustc_path.params", "@rustc.params"],
      { cwd: dir.path },
    );
    assert.deepEqual(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout, "@rustc.params.expanded\n");
    assert.deepEqual(
      Deno.readTextFileSync(`${dir.path}/rustc.params.expanded`),
      `--remap-path-prefix=${dir.path}=.\n`,
    );
  },
);

Deno.test("the child env is own env, env files, OUT_DIR, stamping and substitution", async () => {
  await using dir = await tempDir();
  const child = writeScript(
    dir.path,
    "env.sh",
    'printf "%s|%s|%s|%s|%s\\n" "$OWN" "$FILE" "$OUT_DIR" "$STAMP" "$CONT"',
  );
  Deno.writeTextFileSync(
    `${dir.path}/a.env`,
    "FILE=${pwd}/f\nSTAMP={USER_X} {REV}\nCONT=one\\\ntwo\n",
  );
  Deno.writeTextFileSync(`${dir.path}/stable.txt`, "USER_X alice\n");
  Deno.writeTextFileSync(`${dir.path}/volatile.txt`, "REV 7\n");
  const result = await runWrapper([
    "--subst",
    "pwd=${pwd}",
    "--env-file",
    "a.env",
    "--stable-status-file",
    "stable.txt",
    "--volatile-status-file",
    "volatile.txt",
    "--out-dir",
    "gen",
    "--",
    child,
  ], { cwd: dir.path, env: { OWN: "${pwd}", OUT_DIR: "inherited" } });
  assert.deepEqual(result.code, 0, result.stderr);
  assert.deepEqual(result.stdout, `${dir.path}|${dir.path}/f|${dir.path}/gen|alice 7|one\ntwo\n`);
});

Deno.test("exit codes: the child's; 1 when a signal killed it", async () => {
  await using dir = await tempDir();
  const exit3 = writeScript(dir.path, "exit3.sh", "exit 3");
  const killed = writeScript(dir.path, "killed.sh", "kill -9 $$");
  assert.deepEqual((await runWrapper(["--", exit3])).code, 3);
  assert.deepEqual((await runWrapper(["--", killed])).code, 1);
});

Deno.test("stdout, stderr and output files; marker files only after success", async () => {
  await using dir = await tempDir();
  const ok = writeScript(dir.path, "ok.sh", "echo out; echo err >&2; echo copied > src.txt");
  const fail = writeScript(dir.path, "fail.sh", "echo out; echo err >&2; exit 2");
  const flags = [
    "--stdout-file",
    "stdout.txt",
    "--stderr-file",
    "stderr.txt",
    "--output-file",
    "output.txt",
    "--touch-file",
    "touched",
    "--copy-output",
    "src.txt",
    "dst.txt",
    "--write-unused-inputs",
    "unused.txt",
    "some/seed",
  ];
  const failed = await runWrapper([...flags, "--", fail], { cwd: dir.path });
  assert.deepEqual(failed.code, 2);
  assert.deepEqual(Deno.readTextFileSync(`${dir.path}/stdout.txt`), "out\n");
  assert.deepEqual(Deno.readTextFileSync(`${dir.path}/stderr.txt`), "err\n");
  for (const marker of ["touched", "dst.txt", "unused.txt"]) {
    assert.deepEqual(existsAt(`${dir.path}/${marker}`), false, marker);
  }

  const succeeded = await runWrapper([...flags, "--", ok], { cwd: dir.path });
  assert.deepEqual(succeeded.code, 0, succeeded.stderr);
  assert.deepEqual(succeeded.stdout + succeeded.stderr, "");
  assert.deepEqual(Deno.readTextFileSync(`${dir.path}/output.txt`), "err\n");
  assert.deepEqual(Deno.readFileSync(`${dir.path}/touched`).length, 0);
  assert.deepEqual(Deno.readTextFileSync(`${dir.path}/dst.txt`), "copied\n");
  assert.deepEqual(Deno.readTextFileSync(`${dir.path}/unused.txt`), "some/seed\n");
});

Deno.test("--rustc-output-format filters JSON stderr; --output-file keeps it raw", async () => {
  await using dir = await tempDir();
  const lines = [
    JSON.stringify({ $message_type: "diagnostic", rendered: "warning: one\n" }),
    JSON.stringify({ $message_type: "artifact", artifact: "x.rlib", emit: "link" }),
    "'+x' is not a recognized feature for this target (ignoring feature)",
  ];
  Deno.writeTextFileSync(`${dir.path}/stderr.jsonl`, lines.join("\n") + "\n");
  const child = writeScript(dir.path, "json.sh", `cat "${dir.path}/stderr.jsonl" >&2`);
  const rendered = await runWrapper([
    "--rustc-output-format",
    "rendered",
    "--output-file",
    "raw.txt",
    "--",
    child,
  ], {
    cwd: dir.path,
  });
  assert.deepEqual(rendered.code, 0);
  assert.deepEqual(
    rendered.stderr,
    "warning: one\n'+x' is not a recognized feature for this target (ignoring feature)\n",
  );
  assert.deepEqual(Deno.readTextFileSync(`${dir.path}/raw.txt`), lines.join("\n") + "\n");
  const json = await runWrapper(["--rustc-output-format", "json", "--", child]);
  const printed = json.stderr.trimEnd().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(printed.length, 2);
  assert.deepEqual(printed[0].rendered, "warning: one\n");
  assert.deepEqual(printed[1].level, "warning");
});

Deno.test("a non-JSON line under --rustc-output-format is forwarded with the rest, and fails the run", async () => {
  await using dir = await tempDir();
  const child = writeScript(
    dir.path,
    "panic.sh",
    `printf '%s\\n' '{"rendered":"w\\n"}' 'not json' tail >&2`,
  );
  const result = await runWrapper(["--rustc-output-format", "rendered", "--", child]);
  assert.deepEqual(result.code, 1);
  assert.ok(result.stderr.startsWith("w\nnot json\ntail\n"), result.stderr);
  assert.ok(result.stderr.includes("error parsing rustc output as json"), result.stderr);
});

Deno.test("quit-on-rmeta kills the child after the metadata notification and succeeds", async () => {
  await using dir = await tempDir();
  const child = writeScript(
    dir.path,
    "meta.sh",
    // Left alone, it would fail (exit 3) after 30 s: only the kill and the success make it 0, fast.
    // One process (no grandchild holding the pipes), as rustc is when it writes metadata.
    `echo '{"$message_type":"artifact","artifact":"x.rmeta","emit":"metadata"}' >&2
exec '${Deno.execPath()}' eval 'setTimeout(() => Deno.exit(3), 30_000)'`,
  );
  const started = performance.now();
  const result = await runWrapper(
    [
      "--rustc-quit-on-rmeta",
      "true",
      "--rustc-output-format",
      "json",
      "--touch-file",
      "t",
      "--",
      child,
    ],
    { cwd: dir.path },
  );
  assert.deepEqual(result.code, 0, result.stderr);
  assert.ok(performance.now() - started < 20_000, "the child was not killed");
  assert.ok(existsAt(`${dir.path}/t`));
});

Deno.test("RULES_RUST_PROCESS_WRAPPER_DEBUG prints debug lines on stderr", async () => {
  const quiet = await runWrapper(["--", "/bin/true"]);
  const loud = await runWrapper(["--", "/bin/true"], {
    env: { RULES_RUST_PROCESS_WRAPPER_DEBUG: "1" },
  });
  assert.deepEqual(quiet.stderr, "");
  assert.ok(loud.stderr.includes('child argv: ["/bin/true"]'), loud.stderr);
});

Deno.test("--help lists everything the wrapper accepts, on stderr, and exits 0", async () => {
  const result = await runWrapper(["--help"]);
  assert.deepEqual(result.code, 0);
  for (
    const accepted of [
      ...FLAG_DEFINITIONS.map((definition) => definition.name),
      "--help",
      "--version",
      "--persistent_worker",
      "@FLAGFILE",
      "RULES_RUST_PROCESS_WRAPPER_DEBUG",
    ]
  ) {
    assert.ok(result.stderr.includes(accepted), accepted);
  }
});

Deno.test("--version prints the version and the Deno it runs on, on stdout", async () => {
  const result = await runWrapper(["--version"]);
  assert.deepEqual(result.code, 0);
  assert.equal(result.stdout, `process_wrapper ${VERSION} (deno ${Deno.version.deno})\n`);
});

Deno.test("a forgotten `--`: --version is the version only alone; a program-like word gets a hint", async () => {
  await using dir = await tempDir();
  const hinted: [string[], string][] = [
    [["--subst", "pwd=/x", "rustc", "--version"], 'unknown flag "--version"'],
    [
      ["--rustc-output-format", "rendered", "rustc", "--version"],
      'flag "--rustc-output-format" can only appear once',
    ],
    [["--subst", "pwd=/x", "--subst", "rustc"], "\"--subst\" value 'rustc' is not KEY=VALUE"],
    [
      ["--copy-output", "a", "b", "rustc"],
      '"--copy-output" needs exactly 2 parameters, 3 provided',
    ],
  ];
  for (const [args, expected] of hinted) {
    const result = await runWrapper(args, { cwd: dir.path });
    assert.deepEqual(
      [result.code, result.stdout, result.stderr],
      [1, "", `process wrapper error: ${expected} (${FORGOTTEN_SEPARATOR_HINT})\n`],
      args.join(" "),
    );
  }
  // Errors that no forgotten `--` explains get no hint.
  const plain: [string[], string][] = [
    [["--version", "--", "/bin/true"], 'unknown flag "--version"'],
    [
      ["--out-dir", "a", "--out-dir", "b", "--", "/bin/true"],
      'flag "--out-dir" can only appear once',
    ],
  ];
  for (const [args, expected] of plain) {
    const result = await runWrapper(args, { cwd: dir.path });
    assert.deepEqual(
      [result.code, result.stdout, result.stderr],
      [1, "", `process wrapper error: ${expected}\n`],
      args.join(" "),
    );
  }
});

Deno.test("--subst values chained 30 deep: one line naming --subst, quickly; 4 deep still expands", async () => {
  const chain = (depth: number) =>
    Array.from({ length: depth }, (_, i) => ["--subst", `k${i}=\${k${i + 1}}\${k${i + 1}}`]).flat();
  const started = performance.now();
  const deep = await runWrapper([...chain(30), "--", "/bin/echo", "${k0}"]);
  assert.equal(deep.code, 1);
  assert.match(
    deep.stderr,
    /^process wrapper error: --subst k\d+: the text would grow past 16 MiB[^\n]*\n$/,
  );
  assert.ok(performance.now() - started < 5000, "the substitution was not bounded");
  const shallow = await runWrapper([...chain(4), "--subst", "k4=x", "--", "/bin/echo", "${k0}"]);
  assert.deepEqual([shallow.code, shallow.stdout], [0, "x".repeat(16) + "\n"]);
});

Deno.test("bad input: one clear line naming the flag or file, non-zero, no files written", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/p.params`, "--x\n");
  Deno.writeTextFileSync(`${dir.path}/bad.env`, "NOEQUALS\n");
  Deno.writeFileSync(
    `${dir.path}/latin1.args`,
    new Uint8Array([0x2d, 0x2d, 0x63, 0x66, 0x67, 0xe9, 0x0a]),
  );
  const cases: [string[], string][] = [
    [["--nope", "--", "/bin/true"], 'unknown flag "--nope"'],
    [["--subst", "--", "/bin/true"], 'flag "--subst" missing parameter(s)'],
    [
      ["--out-dir", "a", "--out-dir", "b", "--", "/bin/true"],
      'flag "--out-dir" can only appear once',
    ],
    [
      ["--copy-seed", "a", "--", "/bin/true"],
      '"--copy-seed" needs exactly 2 parameters, 1 provided',
    ],
    [["--seed-min-mb", "abc", "--", "/bin/true"], '"--seed-min-mb" needs a whole number'],
    [["--subst", "x", "--", "/bin/true"], "\"--subst\" value 'x'"],
    [["--rustc-output-format", "xml", "--", "/bin/true"], "--rustc-output-format 'xml'"],
    [["--env-file", "missing.env", "--", "/bin/true"], "--env-file missing.env"],
    [["--env-file", "bad.env", "--", "/bin/true", "@p.params"], "bad.env"],
    [
      ["--stdout-file", "o.txt", "--", "/bin/true", "@missing.params"],
      "@param file missing.params",
    ],
    [["--stdout-file", "o.txt"], "at least one argument after --"],
    [
      ["--arg-file", "latin1.args", "--", "/bin/true"],
      "--arg-file latin1.args: cannot read file (not valid UTF-8)",
    ],
    [["@latin1.args"], "flagfile latin1.args: cannot read (not valid UTF-8)"],
    [
      ["--env-file", "/dev/zero", "--", "/bin/true"],
      "--env-file /dev/zero: cannot read file (larger than 256 MiB)",
    ],
    [["--exit-early", "true", "--env-file", "bad.env", "--", "/bin/true", "@p.params"], "bad.env"],
    [
      [
        "--stdout-file",
        "o.txt",
        "--stderr-file",
        "e.txt",
        "--output-file",
        "r.txt",
        "--",
        "./nope",
      ],
      "failed to spawn child process ./nope",
    ],
  ];
  for (const [args, expected] of cases) {
    const result = await runWrapper(args, { cwd: dir.path });
    assert.deepEqual(result.code, 1, args.join(" "));
    const lines = result.stderr.trimEnd().split("\n");
    assert.deepEqual(lines.length, 1, result.stderr);
    assert.ok(
      lines[0].startsWith("process wrapper error: ") && lines[0].includes(expected),
      `${args.join(" ")}: ${lines[0]}`,
    );
  }
  // Only --stdout-file is opened before the child starts, as upstream opens it.
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((e) => e.name).sort(), [
    "bad.env",
    "latin1.args",
    "o.txt",
    "p.params",
  ]);
});

Deno.test("--exit-early reads every input, writes the .expanded files, and runs no child", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/p.params`, "--a=${pwd}\n");
  Deno.writeTextFileSync(`${dir.path}/a.env`, "A=1\n");
  const child = writeScript(dir.path, "child.sh", "touch ran");
  const result = await runWrapper([
    "--exit-early",
    "true",
    "--subst",
    "pwd=${pwd}",
    "--env-file",
    "a.env",
    "--",
    child,
    "@p.params",
  ], { cwd: dir.path });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(Deno.readTextFileSync(`${dir.path}/p.params.expanded`), `--a=${dir.path}\n`);
  assert.equal(existsAt(`${dir.path}/ran`), false);
});

Deno.test("SIGTERM to the wrapper stops its child and exits non-zero", async () => {
  await using dir = await tempDir();
  const child = writeScript(
    dir.path,
    "sleepy.sh",
    `echo $$ > pid; echo started >&2; exec sleep 60`,
  );
  const process = wrapperCommand(["--", child], { cwd: dir.path }).spawn();
  const reader = process.stderr.getReader();
  await reader.read(); // "started": the child is running.
  reader.releaseLock();
  const childPid = Number(Deno.readTextFileSync(`${dir.path}/pid`).trim());
  process.kill("SIGTERM");
  const status = await within(process.status, 30_000, "the wrapper's exit after SIGTERM");
  await process.stdout.cancel();
  await process.stderr.cancel();
  assert.ok(status.code !== 0, `exit code ${status.code}`);
  assert.deepEqual(isAlive(childPid), false);
});

Deno.test("quit-on-rmeta when the child has already exited after the notification: still 0", async () => {
  await using dir = await tempDir();
  // The child is gone before the wrapper reacts to the notification (found under Bazel).
  const child = writeScript(
    dir.path,
    "quick.sh",
    `echo '{"$message_type":"artifact","artifact":"x.rmeta","emit":"metadata"}' >&2`,
  );
  const results = await Promise.all(
    Array.from(
      { length: 16 },
      () => runWrapper(["--rustc-quit-on-rmeta", "true", "--", child], { cwd: dir.path }),
    ),
  );
  for (const result of results) assert.deepEqual([result.code, result.stderr], [0, ""]);
});

Deno.test("bytes that are not UTF-8: an argument is an error naming it, an inherited env var passes untouched", async () => {
  await using dir = await tempDir();
  // Deno cannot put such bytes into an argument itself: a shell does.
  const viaShell = (script: string) =>
    run("/bin/sh", ["-c", script], { env: { DENO: Deno.execPath(), MAIN: MAIN_TS } });
  const badArgument = await viaShell(`"$DENO" run -A "$MAIN" -- /bin/echo "$(printf 'a\\377b')"`);
  assert.equal(badArgument.code, 1);
  assert.match(
    badArgument.stderr,
    /^process wrapper error: argument 3 is not valid UTF-8: a\uFFFDb\n$/,
  );
  const realReplacementCharacter = await runWrapper(["--", "/bin/echo", "a\uFFFDb"]);
  assert.equal(realReplacementCharacter.stdout, "a\uFFFDb\n");

  const out = `${dir.path}/out.bin`;
  const badEnv = await viaShell(
    `X="$(printf 'a\\377b')" "$DENO" run -A "$MAIN" --env-file /dev/null -- /bin/sh -c 'printf %s "$X" > ${out}'`,
  );
  assert.equal(badEnv.code, 0, badEnv.stderr);
  assert.deepEqual([...Deno.readFileSync(out)], [0x61, 0xff, 0x62]);
});

Deno.test("--stdout-file is the child's own stdout: a grandchild keeping it open does not hold the run", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/out.txt`, "the previous build's, longer than the new");
  const child = writeScript(
    dir.path,
    "child.sh",
    "echo first; (exec 2>/dev/null; sleep 2; echo later) & echo $! > grandchild.pid; exit 0",
  );
  const started = performance.now();
  const result = await runWrapper(["--stdout-file", "out.txt", "--", child], { cwd: dir.path });
  assert.equal(result.code, 0, result.stderr);
  assert.ok(performance.now() - started < 1500, "the wrapper waited for the grandchild");
  assert.equal(Deno.readTextFileSync(`${dir.path}/out.txt`), "first\n");
  // What the grandchild writes later still lands in the file, as it would with upstream.
  const grandchild = Number(Deno.readTextFileSync(`${dir.path}/grandchild.pid`));
  while (isAlive(grandchild)) await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(Deno.readTextFileSync(`${dir.path}/out.txt`), "first\nlater\n");
  assert.deepEqual([...Deno.readDirSync(dir.path)].map((entry) => entry.name).sort(), [
    "child.sh",
    "grandchild.pid",
    "out.txt",
  ]);
});

Deno.test({
  name:
    "--stdout-file opens its path as upstream: through a symlink, into devices and a FIFO, a file kept with its mode",
  ignore: Deno.uid() !== 0, // mknod
  async fn() {
    await using dir = await tempDir();
    const at = (name: string) => `${dir.path}/${name}`;
    const echo = (path: string) =>
      runWrapper(["--stdout-file", path, "--", "/bin/echo", "hi"], { cwd: dir.path });

    Deno.writeTextFileSync(at("target.txt"), "the previous content, longer");
    Deno.symlinkSync("target.txt", at("link.txt"));
    assert.equal((await echo("link.txt")).code, 0);
    assert.ok(Deno.lstatSync(at("link.txt")).isSymlink, "the symlink was replaced");
    assert.equal(Deno.readTextFileSync(at("target.txt")), "hi\n");

    Deno.writeTextFileSync(at("kept.txt"), "the previous content, longer", { mode: 0o600 });
    Deno.chmodSync(at("kept.txt"), 0o600);
    assert.equal((await echo("kept.txt")).code, 0);
    assert.equal(Deno.readTextFileSync(at("kept.txt")), "hi\n");
    assert.equal(Deno.statSync(at("kept.txt")).mode! & 0o777, 0o600);

    // Our own /dev/null and /dev/full, in the test's directory.
    assert.equal((await run("mknod", [at("null"), "c", "1", "3"])).code, 0);
    assert.equal((await run("mknod", [at("full"), "c", "1", "7"])).code, 0);
    assert.equal((await echo("null")).code, 0);
    const full = await echo("full");
    assert.notEqual(full.code, 0, "writing to a full device succeeded");
    for (const device of ["null", "full"]) {
      assert.ok(Deno.lstatSync(at(device)).isCharDevice, `${device} is no longer a device`);
    }

    assert.equal((await run("mkfifo", [at("fifo")])).code, 0);
    const reader = new Deno.Command("/bin/cat", { args: [at("fifo")], stdout: "piped" }).output();
    assert.equal((await echo("fifo")).code, 0);
    assert.equal(new TextDecoder().decode((await reader).stdout), "hi\n");
    assert.ok(Deno.lstatSync(at("fifo")).isFifo, "the FIFO was replaced");
  },
});

Deno.test({
  name: "as an unprivileged user: --stdout-file /dev/null works",
  ignore: !canRunUnprivileged,
  async fn() {
    await using dir = await tempDir();
    const nobody = await prepareUnprivileged(dir.path);
    const result = await nobody.wrapper(
      ["--stdout-file", "/dev/null", "--", "/bin/echo", "hi"],
      `${dir.path}/home`,
    );
    assert.deepEqual([result.code, result.stderr], [0, ""]);
  },
});

Deno.test("with --stdout-file as without: a non-UTF-8 inherited variable passes, a NUL byte is one line", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/nul.env`, "A=x\0y\n");
  Deno.writeTextFileSync(`${dir.path}/nul.args`, "--x\0y\n");
  const viaShell = (script: string) =>
    run("/bin/sh", ["-c", script], {
      cwd: dir.path,
      env: { DENO: Deno.execPath(), MAIN: MAIN_TS },
    });
  for (const flag of ["", "--stdout-file out.txt"]) {
    const passed = await viaShell(
      `X="$(printf 'a\\377b')" "$DENO" run -A "$MAIN" ${flag} -- /bin/sh -c 'printf %s "$X" > x.bin'`,
    );
    assert.equal(passed.code, 0, passed.stderr);
    assert.deepEqual([...Deno.readFileSync(`${dir.path}/x.bin`)], [0x61, 0xff, 0x62], flag);
    for (
      const [file, program] of [["--env-file nul.env", "/bin/true"], [
        "--arg-file nul.args",
        "/bin/echo",
      ]]
    ) {
      const refused = await viaShell(`"$DENO" run -A "$MAIN" ${flag} ${file} -- ${program}`);
      assert.equal(refused.code, 1, `${flag} ${file}`);
      assert.equal(
        refused.stderr,
        `process wrapper error: failed to spawn child process ${program}: TypeError: ` +
          `Failed to spawn '${program}': nul byte found in provided data\n`,
        `${flag} ${file}`,
      );
    }
  }
});
