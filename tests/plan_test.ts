import assert from "node:assert/strict";
import { assertWrapperError } from "./helpers.ts";
import { parseCommandLine } from "../mod/args/mod.ts";
import { resolveOptions } from "../mod/args/mod.ts";
import { isAllowFeaturesFlag, planChild, type PlanHost } from "../mod/args/mod.ts";

/** A host whose files live in a map; reading anything else fails like a missing file. */
function fakeHost(files: Record<string, string>, env: Record<string, string> = {}): PlanHost {
  return {
    cwd: "/exec/execroot/ws",
    env,
    readTextFile: (path) => {
      if (!(path in files)) throw new Deno.errors.NotFound(`No such file: ${path}`);
      return files[path];
    },
    realPath: () => undefined,
  };
}

const plan = (argv: string[], host: PlanHost) =>
  planChild(resolveOptions(parseCommandLine(argv)), host);

Deno.test("child args are the command line's, then --arg-file lines, all substituted", () => {
  const host = fakeHost({ "args.txt": "${pwd}/a.rs\n\n--cfg=x\n" });
  const result = plan([
    "--subst",
    "pwd=${pwd}",
    "--arg-file",
    "args.txt",
    "--",
    "${pwd}/rustc",
    "-v",
  ], host);
  assert.deepEqual(result.executable, "/exec/execroot/ws/rustc");
  assert.deepEqual(result.args, ["-v", "/exec/execroot/ws/a.rs", "--cfg=x"]);
});

Deno.test("the program may come from an --arg-file; with no program at all, the error points to --help", () => {
  const fromFile = plan(["--arg-file", "args.txt"], fakeHost({ "args.txt": "/bin/rustc\n-v\n" }));
  assert.deepEqual([fromFile.executable, ...fromFile.args], ["/bin/rustc", "-v"]);
  for (const argv of [["--subst", "a=b"], ["--"], ["--arg-file", "empty.txt", "--"]]) {
    assertWrapperError(
      () => plan(argv, fakeHost({ "empty.txt": "\n" })),
      "at least one argument after -- is required (the child process path); see --help",
    );
  }
});

Deno.test("@param files are expanded recursively into FILE.expanded, substituted", () => {
  const host = fakeHost({
    "p1.params": "--a=${pwd}\n@p2.params\n--c\n",
    "p2.params": "--b\n",
  });
  const result = plan(["--subst", "pwd=${pwd}", "--", "rustc", "@p1.params"], host);
  assert.deepEqual(result.args, ["@p1.params.expanded"]);
  assert.deepEqual(result.paramFiles, [{
    path: "p1.params.expanded",
    content: "--a=/exec/execroot/ws\n--b\n--c\n",
  }]);
});

Deno.test("a param file that includes itself is an error naming it", () => {
  const host = fakeHost({ "loop.params": "@loop.params\n" });
  assertWrapperError(
    () => plan(["--", "rustc", "@loop.params"], host),
    "loop.params includes itself",
  );
});

Deno.test("-Zallow-features= is appended only when no arg or param line sets it", () => {
  const req = ["--require-explicit-unstable-features", "true", "--", "rustc"];
  assert.deepEqual(plan([...req, "x.rs"], fakeHost({})).args, ["x.rs", "-Zallow-features="]);
  assert.deepEqual(plan([...req, "-Zallow-features=a"], fakeHost({})).args, ["-Zallow-features=a"]);
  assert.deepEqual(plan([...req, "-Z", "allow-features=b"], fakeHost({})).args, [
    "-Z",
    "allow-features=b",
  ]);
  assert.deepEqual(plan([...req, "@p"], fakeHost({ p: "-Zallow-features=c\n" })).args, [
    "@p.expanded",
  ]);
  assert.deepEqual(plan(["--", "rustc"], fakeHost({})).args, []);
  assert.deepEqual(isAllowFeaturesFlag("-Zallow-featuresX"), false);
});

Deno.test("env is own env, overlaid by env files in order, OUT_DIR, then stamped, then substituted", () => {
  const host = fakeHost(
    {
      "a.env": "A=from-a\nB=${pwd}/b\nS={BUILD_USER}-{REV}\n",
      "b.env": "A=from-b\n",
      "stable": "BUILD_USER alice\n",
      "volatile": "REV 42\n",
    },
    { INHERITED: "${pwd}", A: "own", OUT_DIR: "old" },
  );
  const result = plan([
    "--subst",
    "pwd=${pwd}",
    "--env-file",
    "a.env",
    "--env-file",
    "b.env",
    "--stable-status-file",
    "stable",
    "--volatile-status-file",
    "volatile",
    "--out-dir",
    "out",
    "--",
    "rustc",
    "${out_dir}/x",
  ], host);
  assert.deepEqual(result.env, {
    INHERITED: "/exec/execroot/ws",
    A: "from-b",
    B: "/exec/execroot/ws/b",
    S: "alice-42",
    OUT_DIR: "/exec/execroot/ws/out",
  });
  assert.deepEqual(result.args, ["out/x"]);
});

Deno.test("env-file values are substituted with --subst alone, as rules_rust runs it (no status file)", () => {
  const host = fakeHost({ "a.env": "B=${pwd}/b\nC=plain\n" }, { OWN: "${pwd}" });
  const result = plan(["--subst", "pwd=${pwd}", "--env-file", "a.env", "--", "rustc"], host);
  assert.deepEqual(result.env, {
    OWN: "/exec/execroot/ws",
    B: "/exec/execroot/ws/b",
    C: "plain",
  });
});

Deno.test("stamping runs before substitution: a stamped value is never substituted, a substituted one never stamped", () => {
  const host = fakeHost({
    "a.env": "STAMPED=${pwd}\nSUBSTITUTED=${braces}\n",
    "stable": "pwd X\nREV 42\n",
  });
  const result = plan([
    "--subst",
    "pwd=${pwd}",
    "--subst",
    "braces={REV}",
    "--env-file",
    "a.env",
    "--stable-status-file",
    "stable",
    "--",
    "rustc",
  ], host);
  // Stamping first turns "${pwd}" into "$X"; substituting first would give the directory.
  assert.equal(result.env.STAMPED, "$X");
  // Substituting last leaves "{REV}" as the --subst value wrote it; stamping last would give 42.
  assert.equal(result.env.SUBSTITUTED, "{REV}");
});

Deno.test("OUT_DIR is ${pwd}/<dir> through --subst, so a custom pwd applies; without --subst it is absolute", () => {
  const custom = plan(["--subst", "pwd=/custom", "--out-dir", "out", "--", "rustc"], fakeHost({}));
  assert.equal(custom.env.OUT_DIR, "/custom/out");
  const none = plan(["--out-dir", "out", "--", "rustc"], fakeHost({}, { OUT_DIR: "inherited" }));
  assert.equal(none.env.OUT_DIR, "/exec/execroot/ws/out");
});

Deno.test("--exit-early needs no child but reads and checks every input, planning the .expanded files", () => {
  const host = fakeHost({ "a.env": "A=1\n", "p.params": "--x\n" });
  const result = plan(["--exit-early", "true", "--env-file", "a.env", "--", "@p.params"], host);
  assert.deepEqual(result.paramFiles, [{ path: "p.params.expanded", content: "--x\n" }]);
  assert.equal(plan(["--exit-early", "true"], host).executable, "");
  assertWrapperError(
    () => plan(["--exit-early", "true", "--env-file", "gone.env"], host),
    "--env-file gone.env",
  );
  assertWrapperError(
    () => plan(["--exit-early", "true", "--env-file", "p.params"], host),
    "environment file p.params",
  );
});

Deno.test("unreadable input files are errors naming the flag and the file", () => {
  assertWrapperError(
    () => plan(["--env-file", "gone.env", "--", "x"], fakeHost({})),
    "--env-file gone.env",
  );
  assertWrapperError(
    () => plan(["--arg-file", "gone.args", "--", "x"], fakeHost({})),
    "--arg-file gone.args",
  );
  assertWrapperError(
    () => plan(["--", "x", "@gone.params"], fakeHost({})),
    "@param file gone.params",
  );
  assertWrapperError(
    () => plan(["--stable-status-file", "s", "--", "x"], fakeHost({ s: "NOSPACE\n" })),
    "NOSPACE",
  );
});

Deno.test("a relative file that is missing is an error naming the directory it was looked for in; an absolute one is not", () => {
  assertWrapperError(
    () => plan(["--env-file", "gone.env", "--", "x"], fakeHost({})),
    "--env-file gone.env: cannot read file (NotFound: No such file: gone.env; looked in /exec/execroot/ws)",
  );
  assertWrapperError(
    () => plan(["--", "x", "@sub/gone.params"], fakeHost({})),
    "looked in /exec/execroot/ws)",
  );
  try {
    plan(["--env-file", "/abs/gone.env", "--", "x"], fakeHost({}));
    assert.fail("a missing env file must be an error");
  } catch (error) {
    assert.ok(error instanceof Error && !error.message.includes("looked in"), String(error));
  }
});
