import assert from "node:assert/strict";
import { assertWrapperError } from "./helpers.ts";
import { parseEnvFile, parseStatusFile, splitLogicalLines } from "../mod/args/mod.ts";
import { bazelDirectories, resolveSubstitutions, stamp, substitute } from "../mod/args/mod.ts";

Deno.test("empty lines are skipped and a final newline starts no line", () => {
  assert.deepEqual(splitLogicalLines("a\n\n\nb\n"), ["a", "b"]);
  assert.deepEqual(splitLogicalLines(""), []);
  assert.deepEqual(splitLogicalLines("\n\n"), []);
});

Deno.test("an odd number of trailing backslashes continues the line, joined with a newline", () => {
  assert.deepEqual(splitLogicalLines("a\\\nb\nc\n"), ["a\nb", "c"]);
  assert.deepEqual(splitLogicalLines("a\\\\\\\nb\n"), ["a\\\nb"]);
});

Deno.test("each pair of trailing backslashes becomes one and ends the line", () => {
  assert.deepEqual(splitLogicalLines("a\\\\\nb\n"), ["a\\", "b"]);
  assert.deepEqual(splitLogicalLines("a\\\\\\\\\n"), ["a\\\\"]);
});

Deno.test("backslashes inside a line are kept as written", () => {
  assert.deepEqual(splitLogicalLines("C:\\dir\\file x\n"), ["C:\\dir\\file x"]);
});

Deno.test("CRLF line ends are read like LF", () => {
  assert.deepEqual(splitLogicalLines("a\r\nb\\\r\nc\r\n"), ["a", "b\nc"]);
});

Deno.test("only \\n and \\r\\n end a line (Rust's lines()): a lone \\r is text, also at the end", () => {
  assert.deepEqual(splitLogicalLines("a\rb\nc\r"), ["a\rb", "c\r"]);
  assert.deepEqual(splitLogicalLines("c\r\n"), ["c"]);
});

Deno.test("a continuation left open at the end of the file keeps its text", () => {
  assert.deepEqual(splitLogicalLines("a\nb\\"), ["a", "b"]);
});

Deno.test("env files split at the first = and name the file for a line without one", () => {
  assert.deepEqual(parseEnvFile("A=1\nB=x=y\nC=\n", "env"), [["A", "1"], ["B", "x=y"], ["C", ""]]);
  assertWrapperError(
    () => parseEnvFile("A=1\nBROKEN\n", "my.env"),
    "environment file my.env: line 'BROKEN' is not KEY=VALUE",
  );
});

Deno.test("status files split at the first space", () => {
  assert.deepEqual(parseStatusFile("K v w\nBUILD_USER me\n", "s"), [["K", "v w"], [
    "BUILD_USER",
    "me",
  ]]);
  assertWrapperError(() => parseStatusFile("NOVALUE\n", "stable.txt"), "stable.txt");
});

Deno.test("substitutions apply in order, to every occurrence", () => {
  const subs = [{ key: "a", value: "${b}/x" }, { key: "b", value: "B" }];
  assert.deepEqual(substitute("${a}-${a}", subs), "B/x-B/x");
  assert.deepEqual(substitute("${b}", [{ key: "a", value: "${b}" }]), "${b}");
  assert.deepEqual(substitute("no dollar {pwd}", subs), "no dollar {pwd}");
});

Deno.test("stamping replaces {KEY} and runs before ${KEY} substitution", () => {
  assert.deepEqual(stamp("r{REV}-{REV}", [["REV", "7"]]), "r7-7");
  // Upstream order: status keys see the braces of ${...} too.
  assert.deepEqual(
    substitute(stamp("${pwd}", [["pwd", "X"]]), [{ key: "pwd", value: "/w" }]),
    "$X",
  );
});

Deno.test("${pwd} alone never looks for the output base", () => {
  const resolved = resolveSubstitutions([{ key: "pwd", value: "${pwd}" }], "/w", () => {
    throw new Error("looked for the output base");
  });
  assert.deepEqual(resolved, [{ key: "pwd", value: "/w" }]);
});

Deno.test("${pwd}, ${output_base} and ${exec_root} resolve from the working directory", () => {
  const fromExternal = bazelDirectories("/ob/sandbox/1/execroot/_main", "/ob/external");
  assert.deepEqual(fromExternal, {
    pwd: "/ob/sandbox/1/execroot/_main",
    outputBase: "/ob",
    execRoot: "/ob/execroot/_main",
  });
  const twoUp = bazelDirectories("/ob/execroot/ws", undefined);
  assert.deepEqual(twoUp, {
    pwd: "/ob/execroot/ws",
    outputBase: "/ob",
    execRoot: "/ob/execroot/ws",
  });
  const resolved = resolveSubstitutions(
    [{ key: "pwd", value: "${pwd}" }, { key: "ob", value: "${output_base}" }, {
      key: "er",
      value: "${exec_root}",
    }, {
      key: "lit",
      value: "x${pwd}",
    }],
    "/ob/execroot/ws",
    () => twoUp,
  );
  assert.deepEqual(resolved.map((s) => s.value), [
    "/ob/execroot/ws",
    "/ob",
    "/ob/execroot/ws",
    "x${pwd}",
  ]);
});
