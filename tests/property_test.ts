/**
 * Property-based tests (fast-check, pinned in deno.lock) of the pure parts:
 * the flag grammar, the file line rules, substitution and param-file
 * expansion. Random input never crashes them with anything but a
 * WrapperError, and what is generated parses back to what generated it.
 */

import assert from "node:assert/strict";
// Dev-only, pinned in deno.lock. Not in deno.json: `deno task` installs every dependency listed
// there first, so the demo would download a test library.
// deno-lint-ignore no-import-prefix
import fc from "npm:fast-check@4.10.2";
import { WrapperError } from "../mod/errors.ts";
import { FLAG_DEFINITIONS, parseCommandLine } from "../mod/args/mod.ts";
import { parseEnvFile, splitLogicalLines } from "../mod/args/mod.ts";
import { resolveOptions } from "../mod/args/mod.ts";
import { planChild } from "../mod/args/mod.ts";
import { stamp, substitute } from "../mod/args/mod.ts";
import { jsonObjects } from "../mod/worker/mod.ts";

const RUNS = { numRuns: 300 };

/** Succeeds, or fails the way the wrapper reports bad input: a WrapperError. */
function onlyWrapperErrors(body: () => unknown): void {
  try {
    body();
  } catch (error) {
    assert.ok(error instanceof WrapperError, `not a WrapperError: ${error}`);
  }
}

/** Text with the characters the rules care about made likely, non-ASCII included. */
const awkwardText = fc.string({
  unit: fc.oneof(
    fc.constantFrom("\\", "\n", "\r", "=", "$", "{", "}", "@", "-", " ", "é", "日", "😀", "\0"),
    fc.string({ minLength: 1, maxLength: 1 }),
  ),
  maxLength: 200,
});

/** A flag value: anything that does not start with `--` (which would end the flag). */
const flagValue = fc.string({ unit: "grapheme", maxLength: 20 }).filter((s) => !s.startsWith("--"));

Deno.test("grammar: a generated command line parses back into the flags that produced it", () => {
  const flagUse = fc.constantFrom(...FLAG_DEFINITIONS).chain((definition) =>
    fc.tuple(
      fc.constant(definition),
      definition.kind === "single"
        ? fc.array(flagValue, { minLength: 1, maxLength: 1 })
        : definition.kind === "pair"
        ? fc.array(flagValue, { minLength: 2, maxLength: 2 })
        : fc.array(flagValue, { minLength: 1, maxLength: 3 }),
    )
  );
  fc.assert(
    fc.property(
      fc.uniqueArray(flagUse, { selector: ([definition]) => definition.name, maxLength: 8 }),
      fc.array(fc.string({ unit: "grapheme", maxLength: 12 }), { minLength: 1, maxLength: 6 }),
      (uses, child) => {
        const argv = [...uses.flatMap(([d, values]) => [d.name, ...values]), "--", ...child];
        const parsed = parseCommandLine(argv);
        assert.deepEqual(parsed.child, child);
        assert.deepEqual(
          new Map(parsed.flags),
          new Map(uses.map(([definition, values]) => [definition.name, values])),
        );
      },
    ),
    RUNS,
  );
});

Deno.test("grammar: any argv parses or fails with a WrapperError", () => {
  const arg = fc.oneof(
    fc.constantFrom(...FLAG_DEFINITIONS.map((d) => d.name), "--", "--help", "--nope", "@x"),
    awkwardText,
  );
  fc.assert(
    fc.property(
      fc.array(arg, { maxLength: 12 }),
      (argv) => onlyWrapperErrors(() => resolveOptions(parseCommandLine(argv))),
    ),
    RUNS,
  );
});

/** Writes logical lines in the file syntax: continuations and doubled trailing backslashes. */
function encodeLines(lines: readonly string[], newline: string): string {
  const encodeLine = (line: string) =>
    line.split("\n").map((piece, i, pieces) => {
      const trailing = piece.length - piece.replace(/\\+$/, "").length;
      return piece + "\\".repeat(trailing) + (i < pieces.length - 1 ? "\\" : "");
    }).join(newline);
  return lines.map(encodeLine).join(newline) + newline;
}

Deno.test("line rules: logical lines survive writing and reading, LF or CRLF", () => {
  const logicalLine = fc.string({
    unit: fc.oneof(
      fc.constantFrom("\\", "\n", "a", "é", "😀", " ", "="),
      fc.string({ maxLength: 1 }),
    ),
    minLength: 1,
    maxLength: 40,
  }).filter((line) => !line.includes("\r") && !line.endsWith("\n") && line.trim() !== "");
  fc.assert(
    fc.property(fc.array(logicalLine, { maxLength: 10 }), fc.boolean(), (lines, crlf) => {
      assert.deepEqual(splitLogicalLines(encodeLines(lines, crlf ? "\r\n" : "\n")), lines);
    }),
    RUNS,
  );
});

Deno.test("line rules: any text splits, any env file parses or fails with a WrapperError", () => {
  fc.assert(
    fc.property(awkwardText, (text) => {
      const lines = splitLogicalLines(text);
      assert.ok(lines.every((line) => line.length > 0));
      onlyWrapperErrors(() => parseEnvFile(text, "env"));
    }),
    RUNS,
  );
});

Deno.test("line rules: a 4 MiB line and empty lines between lines", () => {
  const long = "x".repeat(4 * 1024 * 1024);
  assert.deepEqual(splitLogicalLines(`\n\n${long}\n\n\nb\n`), [long, "b"]);
});

Deno.test("substitution: ${KEY} becomes VALUE; text without ${ is untouched", () => {
  const plain = fc.string({ maxLength: 30 }).filter((s) => !s.includes("${") && !s.endsWith("$"));
  const key = fc.string({ minLength: 1, maxLength: 8 }).filter((s) =>
    !s.includes("}") && !s.includes("${")
  );
  fc.assert(
    fc.property(plain, key, plain, plain, (before, k, value, after) => {
      const subs = [{ key: k, value }];
      assert.deepEqual(substitute(before + after, subs), before + after);
      if (after.startsWith("{")) return; // "$" + "{" would open another key.
      assert.deepEqual(substitute(`${before}\${${k}}${after}`, subs), before + value + after);
    }),
    RUNS,
  );
});

Deno.test("param files: random nested @files (cycles included) expand or fail with a WrapperError", () => {
  const names = ["p0", "p1", "p2", "p3"];
  const paramLine = fc.oneof(
    fc.constantFrom(
      ...names.map((name) => `@${name}`),
      "@missing",
      "${pwd}/x",
      "-Zallow-features=",
    ),
    awkwardText,
  );
  const files = fc.dictionary(fc.constantFrom(...names), fc.array(paramLine, { maxLength: 5 }));
  fc.assert(
    fc.property(files, fc.array(paramLine, { minLength: 1, maxLength: 4 }), (contents, child) => {
      const host = {
        cwd: "/work",
        env: {},
        readTextFile: (path: string) => {
          const lines = contents[path];
          if (lines === undefined) throw new Deno.errors.NotFound(path);
          return lines.join("\n");
        },
        realPath: () => undefined,
      };
      onlyWrapperErrors(() => {
        const options = resolveOptions(parseCommandLine(["--subst", "pwd=${pwd}", "--", ...child]));
        const plan = planChild(options, host);
        for (const file of plan.paramFiles) assert.ok(!file.content.includes("${pwd}"));
      });
    }),
    RUNS,
  );
});

Deno.test("param files: acyclic nested @files with ${pwd} expand exactly as a reference model says", () => {
  const names = ["p0", "p1", "p2", "p3"];
  // No line syntax here (backslashes, line ends): the line rules have their own properties.
  const text = fc.string({
    unit: fc.constantFrom("a", "é", "😀", " ", "=", "$", "{", "}", "-", "/"),
    minLength: 1,
    maxLength: 12,
  }).filter((line) => !line.startsWith("@"));
  const withPwd = fc.tuple(text, text).map(([before, after]) => `${before}\${pwd}${after}`);
  const lineFor = (index: number) =>
    fc.oneof(
      withPwd,
      text,
      // A file names only later files: no cycles, nothing missing.
      ...names.slice(index + 1).map((name) => fc.constant(`@${name}`)),
    );
  const files = fc.tuple(
    ...names.map((_, i) => fc.array(lineFor(i), { minLength: 1, maxLength: 4 })),
  );
  const child = fc.array(fc.oneof(withPwd, text, fc.constant("@p0")), {
    minLength: 1,
    maxLength: 4,
  });
  let substitutedChecks = 0;
  fc.assert(
    fc.property(files, child, withPwd, (contents, childArgs, program) => {
      const byName = Object.fromEntries(names.map((name, i) => [name, contents[i]]));
      const host = {
        cwd: "/work",
        env: {},
        readTextFile: (path: string) => byName[path].join("\n") + "\n",
        realPath: () => undefined,
      };
      const expected = (name: string): string[] =>
        byName[name].flatMap((line) => {
          const substituted = line.replaceAll("${pwd}", "/work");
          return substituted.startsWith("@") ? expected(substituted.slice(1)) : [substituted];
        });
      const argv = ["--subst", "pwd=${pwd}", "--", program, ...childArgs];
      const plan = planChild(resolveOptions(parseCommandLine(argv)), host);
      assert.equal(plan.executable, program.replaceAll("${pwd}", "/work"));
      assert.deepEqual(
        plan.args,
        childArgs.map((arg) => arg === "@p0" ? "@p0.expanded" : arg.replaceAll("${pwd}", "/work")),
      );
      for (const file of plan.paramFiles) {
        assert.equal(file.path, "p0.expanded");
        assert.equal(file.content, expected("p0").map((line) => line + "\n").join(""));
      }
      substitutedChecks++;
    }),
    RUNS,
  );
  // Every case had a ${pwd} (the program) and ran to the end: none was skipped by an error.
  assert.equal(substitutedChecks, RUNS.numRuns);
});

Deno.test("worker requests: objects split anywhere, compact or pretty, come out whole and in order", async () => {
  const request = fc.record({
    arguments: fc.array(
      fc.string({ unit: fc.constantFrom("a", "{", "}", '"', "\\", "é", "😀", "\n") }),
    ),
    requestId: fc.nat(),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(request, fc.boolean()), { minLength: 1, maxLength: 5 }),
      fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 8 }),
      async (requests, cuts) => {
        const texts = requests.map(([value, pretty]) =>
          JSON.stringify(value, null, pretty ? 2 : 0)
        );
        const bytes = new TextEncoder().encode(texts.join("\n "));
        const chunks: Uint8Array[] = [];
        for (let at = 0, i = 0; at < bytes.length; at += cuts[i++ % cuts.length]) {
          chunks.push(bytes.subarray(at, at + cuts[i % cuts.length]));
        }
        assert.deepEqual(await Array.fromAsync(jsonObjects(ReadableStream.from(chunks))), texts);
      },
    ),
    RUNS,
  );
});

Deno.test("stamping and substitution keep $&, $$ and $` in values as written (found by the properties)", () => {
  assert.deepEqual(substitute("${k}", [{ key: "k", value: "a$&b$$c$`d$'e" }]), "a$&b$$c$`d$'e");
  assert.deepEqual(stamp("{K}", [["K", "$&$$"]]), "$&$$");
});
