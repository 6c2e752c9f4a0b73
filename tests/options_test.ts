import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parseCommandLine } from "../mod/flags.ts";
import { DEFAULT_SEED_MIN_MB, resolveOptions } from "../mod/options.ts";

const resolve = (argv: string[]) => resolveOptions(parseCommandLine(argv));
const messageOf = (argv: string[]) => {
  try {
    resolve(argv);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be rejected`);
};

Deno.test("a child is required unless --exit-early true", () => {
  assertEquals(
    messageOf(["--subst", "a=b"]),
    "at least one argument after -- is required (the child process path)",
  );
  assertEquals(
    messageOf(["--"]),
    "at least one argument after -- is required (the child process path)",
  );
  assertEquals(messageOf(["--exit-early", "false", "--"]).includes("at least one argument"), true);
  assertEquals(resolve(["--exit-early", "true"]).exitEarly, true);
});

Deno.test("pair flags need exactly two values", () => {
  for (const flag of ["--copy-output", "--copy-seed", "--seed-prev-dir", "--write-unused-inputs"]) {
    assertEquals(
      messageOf([flag, "a", "--", "x"]),
      `"${flag}" needs exactly 2 parameters, 1 provided`,
    );
    assertEquals(
      messageOf([flag, "a", "b", "c", "--", "x"]),
      `"${flag}" needs exactly 2 parameters, 3 provided`,
    );
  }
  assertEquals(resolve(["--copy-seed", "s", "d", "--", "x"]).copySeed, {
    source: "s",
    destination: "d",
  });
});

Deno.test("--copy-output source and destination must differ", () => {
  assertEquals(
    messageOf(["--copy-output", "a", "a", "--", "x"]).includes("need to be different"),
    true,
  );
});

Deno.test("--subst needs KEY=VALUE and splits at the first =", () => {
  assertEquals(messageOf(["--subst", "novalue", "--", "x"]).includes("--subst"), true);
  assertEquals(resolve(["--subst", "k=a=b", "--", "x"]).substitutions, [{
    key: "k",
    value: "a=b",
  }]);
});

Deno.test("--rustc-output-format accepts json and rendered only", () => {
  assertEquals(resolve(["--rustc-output-format", "json", "--", "x"]).rustcOutputFormat, "json");
  assertEquals(
    messageOf(["--rustc-output-format", "short", "--", "x"]).includes(
      "--rustc-output-format 'short'",
    ),
    true,
  );
  assertEquals(resolve(["--", "x"]).rustcOutputFormat, undefined);
});

Deno.test("quit-on-rmeta alone processes JSON as rendered, as the older upstream did", () => {
  assertEquals(resolve(["--rustc-quit-on-rmeta", "true", "--", "x"]).rustcOutputFormat, "rendered");
});

Deno.test("boolean flags are true only for the value true", () => {
  assertEquals(resolve(["--rustc-quit-on-rmeta", "yes", "--", "x"]).rustcQuitOnRmeta, false);
  assertEquals(
    resolve(["--require-explicit-unstable-features", "true", "--", "x"])
      .requireExplicitUnstableFeatures,
    true,
  );
  assertEquals(
    resolve(["--require-explicit-unstable-features", "TRUE", "--", "x"])
      .requireExplicitUnstableFeatures,
    false,
  );
});

Deno.test("--seed-min-mb is a whole number, default 20", () => {
  assertEquals(resolve(["--", "x"]).seedMinMb, DEFAULT_SEED_MIN_MB);
  assertEquals(resolve(["--seed-min-mb", "0", "--", "x"]).seedMinMb, 0);
  assertEquals(
    messageOf(["--seed-min-mb", "abc", "--", "x"]),
    `"--seed-min-mb" needs a whole number of MiB, got 'abc'`,
  );
  assertEquals(messageOf(["--seed-min-mb", "1.5", "--", "x"]).includes("--seed-min-mb"), true);
  assertEquals(messageOf(["--seed-min-mb", "-1", "--", "x"]).includes("got '-1'"), true);
});
