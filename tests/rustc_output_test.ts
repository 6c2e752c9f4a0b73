import assert from "node:assert/strict";
import { classifyRustcLine, isLlvmWarning, llvmWarningAsJson } from "../mod/exec/mod.ts";
import { type ByteSink, pumpStderr } from "../mod/exec/mod.ts";

const diagnostic = JSON.stringify({
  $message_type: "diagnostic",
  level: "warning",
  rendered: "warning: x\n",
});
const metadata = JSON.stringify({
  $message_type: "artifact",
  artifact: "libx.rmeta",
  emit: "metadata",
});
const link = JSON.stringify({ $message_type: "artifact", artifact: "libx.rlib", emit: "link" });

Deno.test("diagnostics print as rendered text or as the JSON line", () => {
  assert.deepEqual(classifyRustcLine(diagnostic, "rendered"), {
    kind: "print",
    text: "warning: x\n",
  });
  assert.deepEqual(classifyRustcLine(diagnostic, "json"), {
    kind: "print",
    text: diagnostic + "\n",
  });
});

Deno.test("artifact notifications are dropped; metadata ones are recognised", () => {
  assert.deepEqual(classifyRustcLine(link, "rendered"), { kind: "skip" });
  assert.deepEqual(classifyRustcLine(metadata, "json"), { kind: "metadata" });
  assert.deepEqual(classifyRustcLine("[1,2]", "json"), { kind: "skip" });
  assert.deepEqual(classifyRustcLine('{"rendered":5}', "json"), { kind: "skip" });
});

Deno.test("a line with both emit and rendered is an artifact notification, never printed", () => {
  const both = JSON.stringify({ emit: "metadata", rendered: "warning: x\n" });
  assert.deepEqual(classifyRustcLine(both, "rendered"), { kind: "metadata" });
  const linkBoth = JSON.stringify({ emit: "link", rendered: "warning: x\n" });
  assert.deepEqual(classifyRustcLine(linkBoth, "json"), { kind: "skip" });
});

Deno.test("a last line without a newline prints without one: JSON and LLVM-warning lines alike", () => {
  const feature = "'+x' is not a recognized feature for this target (ignoring feature)";
  assert.deepEqual(classifyRustcLine(diagnostic, "json", false), {
    kind: "print",
    text: diagnostic,
  });
  assert.deepEqual(classifyRustcLine(feature, "rendered", false), { kind: "print", text: feature });
  assert.deepEqual(classifyRustcLine(feature, "json", false), {
    kind: "print",
    text: llvmWarningAsJson(feature),
  });
});

Deno.test("non-JSON lines are invalid", () => {
  assert.deepEqual(classifyRustcLine("thread 'rustc' panicked", "rendered"), { kind: "invalid" });
  assert.deepEqual(classifyRustcLine("", "rendered"), { kind: "invalid" });
});

Deno.test("LLVM's plain warnings are wrapped into warning diagnostics", () => {
  const feature = "'+zaamo' is not a recognized feature for this target (ignoring feature)";
  assert.deepEqual(isLlvmWarning(feature), true);
  assert.deepEqual(isLlvmWarning(" WARN rustc_errors::emitter Invalid span"), true);
  assert.deepEqual(isLlvmWarning("WARN no leading space"), false);
  assert.deepEqual(JSON.parse(llvmWarningAsJson(feature)), {
    $message_type: "diagnostic",
    message: feature,
    code: null,
    level: "warning",
    spans: [],
    children: [],
    rendered: feature + "\n",
  });
  assert.deepEqual(classifyRustcLine(feature, "rendered"), { kind: "print", text: feature + "\n" });
});

/** A sink that remembers what was written, accepting at most `limit` bytes per call. */
function memorySink(limit = Infinity): ByteSink & { bytes(): Uint8Array; text(): string } {
  const chunks: Uint8Array[] = [];
  const bytes = () => new Uint8Array(chunks.flatMap((chunk) => [...chunk]));
  return {
    write(written: Uint8Array) {
      const taken = written.slice(0, Math.min(written.length, limit));
      chunks.push(taken);
      return Promise.resolve(taken.length);
    },
    bytes,
    text: () => new TextDecoder().decode(bytes()),
  };
}

/** A byte stream (as a child's stderr is) of the given chunks, split wherever the test wants. */
function bytesOf(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let next = 0;
  return new ReadableStream({
    type: "bytes",
    pull(controller) {
      if (next < chunks.length) return controller.enqueue(chunks[next++].slice());
      controller.close();
      controller.byobRequest?.respond(0);
    },
  });
}

function streamOf(...chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return bytesOf(...chunks.map((chunk) => encoder.encode(chunk)));
}

Deno.test("lines split across chunks are joined before they are classified", async () => {
  const [a, b] = [diagnostic.slice(0, 10), diagnostic.slice(10)];
  const forward = memorySink(3);
  const raw = memorySink();
  const outcome = await pumpStderr(streamOf(a, b + "\n" + link + "\n"), {
    forward,
    raw,
    format: "rendered",
    quitOnMetadata: false,
  });
  assert.deepEqual(outcome, { stoppedAtMetadata: false });
  assert.deepEqual(forward.text(), "warning: x\n");
  assert.deepEqual(raw.text(), diagnostic + "\n" + link + "\n");
});

Deno.test("a last line without a newline is still processed, and forwarded without one", async () => {
  const forward = memorySink();
  await pumpStderr(streamOf(diagnostic + "\n" + diagnostic), {
    forward,
    format: "json",
    quitOnMetadata: false,
  });
  assert.deepEqual(forward.text(), diagnostic + "\n" + diagnostic);
});

Deno.test("quit on metadata stops reading at the notification", async () => {
  const forward = memorySink();
  const raw = memorySink();
  const later = JSON.stringify({ rendered: "after metadata\n" });
  const outcome = await pumpStderr(streamOf(diagnostic + "\n" + metadata + "\n" + later + "\n"), {
    forward,
    raw,
    format: "rendered",
    quitOnMetadata: true,
  });
  assert.deepEqual(outcome, { stoppedAtMetadata: true });
  assert.deepEqual(forward.text(), "warning: x\n");
  assert.deepEqual(raw.text(), diagnostic + "\n" + metadata + "\n");
});

Deno.test("without quit on metadata the metadata notification is just dropped", async () => {
  const forward = memorySink();
  const outcome = await pumpStderr(streamOf(metadata + "\n" + diagnostic + "\n"), {
    forward,
    format: "rendered",
    quitOnMetadata: false,
  });
  assert.deepEqual(outcome.stoppedAtMetadata, false);
  assert.deepEqual(forward.text(), "warning: x\n");
});

Deno.test("a non-JSON line is forwarded with everything after it, as-is", async () => {
  const forward = memorySink();
  const raw = memorySink();
  const outcome = await pumpStderr(
    streamOf(diagnostic + "\npanic here\n" + diagnostic, "\nrest\n"),
    { forward, raw, format: "rendered", quitOnMetadata: false },
  );
  assert.deepEqual(outcome.invalidLine, "panic here");
  assert.deepEqual(forward.text(), "warning: x\npanic here\n" + diagnostic + "\nrest\n");
  assert.deepEqual(raw.text(), diagnostic + "\npanic here\n" + diagnostic + "\nrest\n");
});

Deno.test("without a format, bytes are forwarded untouched, invalid UTF-8 included", async () => {
  const forward = memorySink();
  const garbage = new Uint8Array([0xff, 0xfe, 0x00, 0x0a, 0xc3]);
  await pumpStderr(bytesOf(garbage, garbage), { forward, quitOnMetadata: false });
  assert.deepEqual(forward.bytes(), new Uint8Array([...garbage, ...garbage]));
});

Deno.test("chunks larger than the read buffer, and lines spanning reads, arrive whole", async () => {
  // 200 KiB lines: each spans several 64 KiB reads into the reused buffer.
  const long = (n: number) =>
    JSON.stringify({ $message_type: "diagnostic", rendered: `${n}`.repeat(200 * 1024) + "\n" });
  const forward = memorySink();
  const raw = memorySink();
  const input = long(1) + "\n" + long(2) + "\n";
  await pumpStderr(streamOf(input), { forward, raw, format: "rendered", quitOnMetadata: false });
  assert.deepEqual(forward.text(), "1".repeat(200 * 1024) + "\n" + "2".repeat(200 * 1024) + "\n");
  assert.deepEqual(raw.text(), input);
  const copied = memorySink();
  await pumpStderr(streamOf(input), { forward: copied, quitOnMetadata: false });
  assert.deepEqual(copied.text(), input);
});
