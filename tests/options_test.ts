import assert from "node:assert/strict";
import { parseCommandLine } from "../mod/args/mod.ts";
import { WrapperError } from "../mod/errors.ts";
import { DEFAULT_SEED_MIN_MB, resolveOptions } from "../mod/args/mod.ts";

const resolve = (argv: string[]) => resolveOptions(parseCommandLine(argv));
const messageOf = (argv: string[]) => {
  try {
    resolve(argv);
  } catch (error) {
    // A TypeError from a bug must not pass for a rejected command line.
    if (error instanceof WrapperError) return error.message;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be rejected`);
};

Deno.test("options leave the child's presence to the plan: an arg file may name the program", () => {
  assert.deepEqual(resolve(["--arg-file", "args.txt"]).child, []);
  assert.deepEqual(resolve(["--exit-early", "true"]).exitEarly, true);
});

Deno.test("pair flags need exactly two values", () => {
  for (const flag of ["--copy-output", "--copy-seed", "--seed-prev-dir", "--write-unused-inputs"]) {
    assert.deepEqual(
      messageOf([flag, "a", "--", "x"]),
      `"${flag}" needs exactly 2 parameters, 1 provided`,
    );
    assert.deepEqual(
      messageOf([flag, "a", "b", "c", "--", "x"]),
      `"${flag}" needs exactly 2 parameters, 3 provided (did you forget \`--\` before the command?)`,
    );
    // An empty DEST would seed into the file-system root.
    assert.deepEqual(messageOf([flag, "a", "", "--", "x"]), `"${flag}" has an empty path`);
    assert.deepEqual(messageOf([flag, "", "b", "--", "x"]), `"${flag}" has an empty path`);
  }
  assert.deepEqual(resolve(["--copy-seed", "s", "d", "--", "x"]).copySeed, {
    source: "s",
    destination: "d",
  });
});

Deno.test("--copy-output source and destination must differ", () => {
  assert.deepEqual(
    messageOf(["--copy-output", "a", "a", "--", "x"]).includes("need to be different"),
    true,
  );
});

Deno.test("--subst needs KEY=VALUE and splits at the first =", () => {
  assert.deepEqual(messageOf(["--subst", "novalue", "--", "x"]).includes("--subst"), true);
  assert.deepEqual(resolve(["--subst", "k=a=b", "--", "x"]).substitutions, [{
    key: "k",
    value: "a=b",
  }]);
});

Deno.test("--rustc-output-format accepts json and rendered only", () => {
  assert.deepEqual(resolve(["--rustc-output-format", "json", "--", "x"]).rustcOutputFormat, "json");
  assert.deepEqual(
    messageOf(["--rustc-output-format", "short", "--", "x"]).includes(
      "--rustc-output-format 'short'",
    ),
    true,
  );
  assert.deepEqual(resolve(["--", "x"]).rustcOutputFormat, undefined);
});

Deno.test("quit-on-rmeta alone processes JSON as rendered, as the older upstream did", () => {
  assert.deepEqual(
    resolve(["--rustc-quit-on-rmeta", "true", "--", "x"]).rustcOutputFormat,
    "rendered",
  );
});

Deno.test("boolean flags are true only for the value true", () => {
  assert.deepEqual(resolve(["--rustc-quit-on-rmeta", "yes", "--", "x"]).rustcQuitOnRmeta, false);
  assert.deepEqual(
    resolve(["--require-explicit-unstable-features", "true", "--", "x"])
      .requireExplicitUnstableFeatures,
    true,
  );
  assert.deepEqual(
    resolve(["--require-explicit-unstable-features", "TRUE", "--", "x"])
      .requireExplicitUnstableFeatures,
    false,
  );
});

Deno.test("--seed-min-mb is a whole number, default 20", () => {
  assert.deepEqual(resolve(["--", "x"]).seedMinMb, DEFAULT_SEED_MIN_MB);
  assert.deepEqual(resolve(["--seed-min-mb", "0", "--", "x"]).seedMinMb, 0);
  assert.deepEqual(
    messageOf(["--seed-min-mb", "abc", "--", "x"]),
    `"--seed-min-mb" needs a whole number of MiB, got 'abc'`,
  );
  assert.deepEqual(messageOf(["--seed-min-mb", "1.5", "--", "x"]).includes("--seed-min-mb"), true);
  assert.deepEqual(messageOf(["--seed-min-mb", "-1", "--", "x"]).includes("got '-1'"), true);
});
