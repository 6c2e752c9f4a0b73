import assert from "node:assert/strict";
import { assertWrapperError } from "./helpers.ts";
import { FLAG_DEFINITIONS, helpText, parseCommandLine } from "../mod/args/mod.ts";
import { WrapperError } from "../mod/errors.ts";

const errorOf = (argv: string[]) => {
  try {
    parseCommandLine(argv);
  } catch (error) {
    if (error instanceof WrapperError) return error.message;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be rejected`);
};

Deno.test("a flag takes every argument up to the next one beginning with --", () => {
  const parsed = parseCommandLine(["--copy-seed", "A", "B", "--subst", "k=v", "--", "rustc", "x"]);
  assert.deepEqual(parsed.flags.get("--copy-seed"), ["A", "B"]);
  assert.deepEqual(parsed.flags.get("--subst"), ["k=v"]);
  assert.deepEqual(parsed.child, ["rustc", "x"]);
});

Deno.test("-- ends the flags: everything after it is the child's, -- and --flags included", () => {
  const parsed = parseCommandLine(["--", "rustc", "--", "--subst", "@p"]);
  assert.deepEqual(parsed.child, ["rustc", "--", "--subst", "@p"]);
  assert.deepEqual(parsed.flags.size, 0);
});

Deno.test("repeated flags accumulate their values in order", () => {
  const parsed = parseCommandLine([
    "--subst",
    "a=1",
    "--env-file",
    "e",
    "--subst",
    "b=2",
    "c=3",
    "--",
  ]);
  assert.deepEqual(parsed.flags.get("--subst"), ["a=1", "b=2", "c=3"]);
});

Deno.test("a pair flag may be split over occurrences", () => {
  const parsed = parseCommandLine(["--copy-output", "a", "--copy-output", "b", "--", "x"]);
  assert.deepEqual(parsed.flags.get("--copy-output"), ["a", "b"]);
});

Deno.test("a single flag given twice or with two values can only appear once", () => {
  assert.deepEqual(
    errorOf(["--touch-file", "a", "--touch-file", "b", "--", "x"]),
    'flag "--touch-file" can only appear once',
  );
  assert.deepEqual(
    errorOf(["--touch-file", "a", "b", "--", "x"]),
    'flag "--touch-file" can only appear once (did you forget `--` before the command?)',
  );
});

Deno.test("a flag without a value is missing parameter(s)", () => {
  assert.deepEqual(errorOf(["--subst", "--", "x"]), 'flag "--subst" missing parameter(s)');
  assert.deepEqual(errorOf(["--touch-file"]), 'flag "--touch-file" missing parameter(s)');
});

Deno.test("unknown --names and bare arguments before -- are unknown flags", () => {
  assert.deepEqual(errorOf(["--nope", "1", "--", "x"]), 'unknown flag "--nope"');
  assert.deepEqual(
    errorOf(["rustc", "--", "x"]),
    'unknown flag "rustc" (did you forget `--` before the command?)',
  );
  assert.deepEqual(
    errorOf(["--subst", "a=b", "--nope", "--", "x"]),
    'unknown flag "--nope" (did you forget `--` before the command?)',
  );
  assert.deepEqual(errorOf(["-v", "--", "x"]), 'unknown flag "-v"');
});

Deno.test("--help wins wherever it appears before --", () => {
  assert.deepEqual(parseCommandLine(["--subst", "a=b", "--help"]).help, true);
  assert.deepEqual(parseCommandLine(["--", "--help"]).help, false);
});

Deno.test("no -- at all leaves the child empty", () => {
  assert.deepEqual(parseCommandLine(["--subst", "a=b"]).child, []);
});

Deno.test("help lists every flag", () => {
  const text = helpText("pw");
  for (const { name } of FLAG_DEFINITIONS) {
    assert.deepEqual(text.includes(`\t${name}\t`), true, name);
  }
});

Deno.test("parse errors are WrapperErrors", () => {
  assertWrapperError(() => parseCommandLine(["--x"]), 'unknown flag "--x"');
});
