/**
 * The persistent-worker protocol, against fake streams and a fake run (and,
 * last, the real wrapper as a worker process).
 */

import assert from "node:assert/strict";
import type { RunIO } from "../mod/exec/mod.ts";
import {
  jsonObjects,
  MAX_CONCURRENT_RUNS,
  MAX_RESPONSE_OUTPUT_BYTES,
  parseWorkRequest,
  type RunWrapper,
  serveWorker,
} from "../mod/worker/mod.ts";
import {
  existsAt,
  isAlive,
  MAIN_TS,
  readPidFile,
  reaped,
  run,
  runWrapper,
  startWorker,
  stillAlive,
  tempDir,
  threeLevelChild,
  threeLevelPids,
  within,
} from "./helpers.ts";

const encoder = new TextEncoder();

/** Feeds `chunks` to a worker running `run`; returns its exit code, responses and log. */
async function serve(chunks: string[], run: RunWrapper, startupArgs: string[] = []) {
  const written: string[] = [];
  const log: string[] = [];
  const decoder = new TextDecoder();
  const code = await serveWorker(startupArgs, run, {
    input: ReadableStream.from(chunks.map((chunk) => encoder.encode(chunk))),
    output: {
      write(bytes) {
        written.push(decoder.decode(bytes));
        return Promise.resolve(bytes.length);
      },
    },
    log: (line) => log.push(line),
  });
  const text = written.join("");
  assert.ok(text === "" || text.endsWith("\n"), "responses are whole lines");
  const responses = text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
  return { code, responses, log, writes: written.length };
}

const request = (id: number, args: string[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({ arguments: args, requestId: id, ...extra }) + "\n";

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

Deno.test("parseWorkRequest reads arguments, id, cancel and sandboxDir, with protobuf defaults", () => {
  assert.deepEqual(parseWorkRequest('{"arguments":["a"],"requestId":4,"sandboxDir":"sb"}'), {
    arguments: ["a"],
    requestId: 4,
    cancel: false,
    sandboxDir: "sb",
  });
  assert.deepEqual(parseWorkRequest('{"unknownField":1}'), {
    arguments: [],
    requestId: 0,
    cancel: false,
    sandboxDir: undefined,
  });
  assert.deepEqual(parseWorkRequest('{"requestId":2,"cancel":true}'), {
    arguments: [],
    requestId: 2,
    cancel: true,
    sandboxDir: undefined,
  });
  assert.deepEqual(parseWorkRequest('{"requestId":2,"arguments":[1]}'), {
    error: "arguments is not a list of strings",
    requestId: 2,
  });
  assert.ok("error" in parseWorkRequest("[1]") && parseWorkRequest("[1]").requestId === undefined);
  assert.ok("error" in parseWorkRequest("{nope"));
  assert.ok("error" in parseWorkRequest('{"requestId":"7"}'));
});

Deno.test("jsonObjects splits Bazel 4's pretty-printed requests, braces in strings included", async () => {
  const text = '{\n  "a": "}{\\"",\n  "b": [{}]\n}{"c":1}\n  \nstray line\n{"d":2}';
  const parts: string[] = [];
  // One byte at a time: objects split across reads still come out whole.
  const input = ReadableStream.from([...encoder.encode(text)].map((byte) => Uint8Array.of(byte)));
  for await (const part of jsonObjects(input)) parts.push(part);
  assert.deepEqual(parts, [
    '{\n  "a": "}{\\"",\n  "b": [{}]\n}',
    '{"c":1}',
    "stray line",
    '{"d":2}',
  ]);
});

Deno.test("each request is one full wrapper run: startup args first, its output in its response", async () => {
  const seen: string[][] = [];
  const run: RunWrapper = async (argv, io) => {
    seen.push([...argv]);
    await io.childStdout!.write(encoder.encode("out "));
    io.warn("a warning");
    return argv.length;
  };
  const { code, responses } = await serve([request(0, ["x", "y"])], run, ["--startup"]);
  assert.deepEqual(code, 0);
  assert.deepEqual(seen, [["--startup", "x", "y"]]);
  assert.deepEqual(responses, [{ exitCode: 3, output: "out a warning\n", requestId: 0 }]);
});

Deno.test("multiplex: requests overlap, each response is one line with its own output", async () => {
  let running = 0;
  let overlapped = false;
  const run: RunWrapper = async (argv, io) => {
    running++;
    overlapped ||= running > 1;
    for (let i = 0; i < 5; i++) {
      await io.childStderr.write(encoder.encode(`${argv[0]}${i} `));
      await delay(Number(argv[1]));
    }
    running--;
    return 0;
  };
  const { responses, writes } = await serve(
    [request(1, ["a", "4"]), request(2, ["b", "1"]), request(3, ["c", "2"])],
    run,
  );
  assert.ok(overlapped, "requests ran at the same time");
  assert.deepEqual(writes, 3, "one write per response");
  assert.deepEqual(
    Object.fromEntries(responses.map((r) => [r.requestId, r.output])),
    { 1: "a0 a1 a2 a3 a4 ", 2: "b0 b1 b2 b3 b4 ", 3: "c0 c1 c2 c3 c4 " },
  );
  assert.deepEqual(responses[0].requestId, 2, "the quickest answers first");
});

Deno.test("a failing or throwing run answers exit 1 and the worker serves the others", async () => {
  const run: RunWrapper = (argv) => {
    if (argv[0] === "throw") throw new Error("bug in one run");
    return Promise.resolve(0);
  };
  const { code, responses } = await serve([request(1, ["throw"]), request(2, ["fine"])], run);
  assert.deepEqual(code, 0);
  const byId = Object.fromEntries(responses.map((r) => [r.requestId, r]));
  assert.deepEqual(byId[1].exitCode, 1);
  assert.ok(byId[1].output.includes("bug in one run"), byId[1].output);
  assert.deepEqual(byId[2], { exitCode: 0, output: "", requestId: 2 });
});

Deno.test("cancel aborts the run's signal; the answer says wasCancelled; late cancels are ignored", async () => {
  const run: RunWrapper = (_argv, io) =>
    new Promise((resolve) => io.cancel!.addEventListener("abort", () => resolve(137)));
  const stream = new TransformStream<Uint8Array, Uint8Array>();
  const writer = stream.writable.getWriter();
  const written: string[] = [];
  const serving = serveWorker([], run, {
    input: stream.readable,
    output: {
      write(bytes) {
        written.push(new TextDecoder().decode(bytes));
        return Promise.resolve(bytes.length);
      },
    },
    log: () => {},
  });
  await writer.write(encoder.encode(request(5, ["slow"])));
  await delay(10);
  await writer.write(encoder.encode(JSON.stringify({ requestId: 5, cancel: true })));
  await writer.write(encoder.encode(JSON.stringify({ requestId: 9, cancel: true })));
  await writer.close();
  assert.deepEqual(await serving, 0);
  assert.deepEqual(written.map((line) => JSON.parse(line)), [
    { exitCode: 137, output: "", requestId: 5, wasCancelled: true },
  ]);
});

Deno.test("malformed requests: answered when the id is readable, else the worker stops with 1", async () => {
  const run: RunWrapper = () => Promise.resolve(0);
  const answered = await serve([
    '{"requestId": 3, "arguments": "not a list"}',
    request(4, []),
  ], run);
  assert.deepEqual(answered.code, 0);
  assert.deepEqual(answered.responses[0].requestId, 3);
  assert.deepEqual(answered.responses[0].exitCode, 1);
  assert.ok(answered.responses[0].output.includes("arguments is not a list"));
  assert.deepEqual(answered.responses[1], { exitCode: 0, output: "", requestId: 4 });

  const stopped = await serve(["garbage\n", request(1, [])], run);
  assert.deepEqual([stopped.code, stopped.responses], [1, []]);
  assert.ok(stopped.log.some((line) => line.includes("unreadable request")), stopped.log.join());
});

Deno.test("a sandboxDir request runs inside it, alone; the worker's directory is restored", async () => {
  await using dir = await tempDir();
  Deno.mkdirSync(`${dir.path}/sandbox`);
  const home = Deno.cwd();
  const cwds: string[] = [];
  let running = 0;
  let maxRunning = 0;
  const run: RunWrapper = async (_argv, io: RunIO) => {
    maxRunning = Math.max(maxRunning, ++running);
    cwds.push(Deno.cwd());
    await delay(5);
    running--;
    io.warn(Deno.cwd());
    return 0;
  };
  const { responses } = await serve([
    request(1, []),
    request(2, [], { sandboxDir: `${dir.path}/sandbox` }),
  ], run);
  assert.deepEqual(Deno.cwd(), home);
  assert.deepEqual(maxRunning, 1, "the sandboxed request ran alone");
  const byId = Object.fromEntries(responses.map((r) => [r.requestId, r.output]));
  assert.deepEqual(byId[2], `${Deno.realPathSync(`${dir.path}/sandbox`)}\n`);
  assert.deepEqual(byId[1], `${home}\n`);
});

Deno.test("a sandboxDir that does not exist is answered with one line naming it; the worker serves on", async () => {
  await using dir = await tempDir();
  const missing = `${dir.path}/gone`;
  const { code, responses } = await serve([
    request(1, ["--", "/bin/true"], { sandboxDir: missing }),
    request(2, []),
  ], () => Promise.resolve(0));
  assert.equal(code, 0);
  const byId = Object.fromEntries(responses.map((r) => [r.requestId, r]));
  assert.deepEqual(byId[1].exitCode, 1);
  assert.match(
    byId[1].output,
    new RegExp(
      `^process wrapper error: sandboxDir ${missing}: cannot enter \\(NotFound: [^\n]*\\)\n$`,
    ),
  );
  assert.deepEqual([byId[2].exitCode, byId[2].output], [0, ""]);
});

Deno.test("the real wrapper as a worker: only responses on stdout, runs as one-shot would", async () => {
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/env`, "FROM_ENV_FILE=yes\n");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "-A", MAIN_TS, "--subst", "pwd=${pwd}", "--persistent_worker"],
    cwd: dir.path,
    env: { WORKER_STARTUP_ENV: "kept" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const script = 'echo "$FROM_ENV_FILE $WORKER_STARTUP_ENV $0"; echo err >&2; exit 4';
  // Pretty-printed and back to back, as Bazel 4 sends them.
  await writer.write(encoder.encode(JSON.stringify(
    {
      arguments: ["--env-file", "env", "--", "/bin/sh", "-c", script, "${pwd}"],
      requestId: 1,
    },
    null,
    2,
  )));
  await writer.write(encoder.encode(JSON.stringify({
    arguments: ["--", "/bin/sh", "-c", 'echo "${FROM_ENV_FILE:-unset}"'],
    requestId: 2,
  })));
  await writer.write(encoder.encode(JSON.stringify({ arguments: ["--bogus"], requestId: 3 })));
  await writer.close();
  const output = await within(child.output(), 60_000, "the worker's answers and exit");
  assert.deepEqual(output.code, 0);
  const responses = new TextDecoder().decode(output.stdout).trimEnd().split("\n").map((line) =>
    JSON.parse(line)
  );
  const byId = Object.fromEntries(responses.map((r) => [r.requestId, r]));
  assert.deepEqual([byId[1].exitCode, byId[1].output.split("\n").sort()], [4, [
    "",
    "err",
    `yes kept ${Deno.realPathSync(dir.path)}`,
  ]], "stdout and stderr both arrive (two pipes: their order is not fixed)");
  assert.deepEqual(byId[2].output, "unset\n", "env files do not leak between requests");
  assert.deepEqual(byId[3].exitCode, 1);
  assert.ok(byId[3].output.includes('unknown flag "--bogus"'), byId[3].output);
});

Deno.test("--persistent_worker after -- is the child's argument, not worker mode", async () => {
  const result = await runWrapper(["--", "/bin/echo", "--persistent_worker"]);
  assert.deepEqual([result.code, result.stdout], [0, "--persistent_worker\n"]);
});

Deno.test("the real wrapper as a worker: cancel kills the request's real child and its children", async () => {
  await using dir = await tempDir();
  const worker = startWorker(dir.path, { stdout: "piped", stderr: "null" });
  await using _reaped = reaped(worker);
  const writer = worker.stdin.getWriter();
  const lines = worker.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await writer.write(encoder.encode(
    JSON.stringify({
      // The background sleep, a grandchild, holds the pipes too: it must die with the child.
      arguments: [
        "--",
        "/bin/sh",
        "-c",
        "sleep 600 & echo $! > grandchild.pid; echo $$ > child.pid; wait",
      ],
      requestId: 7,
    }) + "\n",
  ));
  const pid = await readPidFile(`${dir.path}/child.pid`);
  assert.ok(isAlive(pid), "the child runs until cancelled");

  await writer.write(encoder.encode(JSON.stringify({ requestId: 7, cancel: true }) + "\n"));
  // The answer comes once the child has ended: a child left running would take 600 s.
  const { value } = await within(lines.read(), 60_000, "the answer to the cancel");
  assert.ok(value?.startsWith("{"), value);
  assert.deepEqual(JSON.parse(value!.trim()).wasCancelled, true);
  const grandchild = Number(Deno.readTextFileSync(`${dir.path}/grandchild.pid`));
  // The cancelled request's child is dead, and so is its child.
  assert.deepEqual(await stillAlive({ child: pid, grandchild }, 5000), []);

  await writer.close();
  assert.equal(
    (await within(lines.read(), 10_000, "the end of stdout")).done,
    true,
    "no other answer",
  );
  assert.equal((await within(worker.status, 10_000, "the worker's exit")).code, 0);
});

Deno.test("the real wrapper as a worker: SIGTERM kills every child in flight, then the worker exits 143", async () => {
  await using dir = await tempDir();
  const worker = startWorker(dir.path, { stdout: "null", stderr: "piped" });
  await using _reaped = reaped(worker);
  const writer = worker.stdin.getWriter();
  for (const id of [1, 2]) {
    await writer.write(encoder.encode(
      JSON.stringify({
        arguments: ["--", "/bin/sh", "-c", `echo $$ > ${id}.pid; exec sleep 600`],
        requestId: id,
      }) + "\n",
    ));
  }
  const pids: number[] = [];
  for (const id of [1, 2]) {
    pids.push(await readPidFile(`${dir.path}/${id}.pid`));
  }
  worker.kill("SIGTERM");
  const status = await within(worker.status, 30_000, "the worker's exit after SIGTERM");
  await writer.close().catch(() => {});
  const log = new TextDecoder().decode(await new Response(worker.stderr).arrayBuffer());
  assert.equal(status.code, 143, log);
  assert.match(log, /SIGTERM: stopping 2 run\(s\)/);
  for (const pid of pids) assert.equal(isAlive(pid), false, `child ${pid} outlived the worker`);
});

Deno.test("the real wrapper as a worker: a job the child orphaned holding its pipes holds neither a response nor SIGTERM", async () => {
  await using dir = await tempDir();
  const worker = startWorker(dir.path, { stdout: "piped", stderr: "null" });
  const writer = worker.stdin.getWriter();
  const lines = worker.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const orphaning = (id: number) =>
    encoder.encode(
      JSON.stringify({
        arguments: ["--", "/bin/sh", "-c", `sleep 10 & echo $! > job${id}; echo hi`],
        requestId: id,
      }) + "\n",
    );
  const jobs: number[] = [];
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bounded = <T>(what: string, promise: Promise<T>) =>
      Promise.race([
        promise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${what} waited for the orphan`)), 5_000);
        }),
      ]).finally(() => clearTimeout(timer));
    await writer.write(orphaning(1));
    const answer = await bounded("the response", lines.read());
    assert.deepEqual(JSON.parse(answer.value!), { exitCode: 0, output: "hi\n", requestId: 1 });
    jobs.push(Number(Deno.readTextFileSync(`${dir.path}/job1`)));
    await writer.write(orphaning(2));
    while (!existsAt(`${dir.path}/job2`)) await delay(10);
    jobs.push(Number(Deno.readTextFileSync(`${dir.path}/job2`)));
    worker.kill("SIGTERM");
    assert.equal((await bounded("SIGTERM", worker.status)).code, 143);
  } finally {
    for (const job of jobs) if (isAlive(job)) Deno.kill(job, "SIGKILL");
    await writer.close().catch(() => {});
    await lines.cancel();
  }
});

Deno.test("a run printing 100 MB is answered, cut at the cap with a note, and the worker serves on", async () => {
  const chunk = new Uint8Array(1 << 20).fill(0x78);
  const run: RunWrapper = async (argv, io) => {
    if (argv[0] === "flood") {
      for (let i = 0; i < 100; i++) await io.childStdout!.write(chunk);
      io.warn("process wrapper error: the run's own line is kept");
    }
    return 0;
  };
  const { responses } = await serve([request(1, ["flood"]), request(2, ["calm"])], run);
  const byId = Object.fromEntries(responses.map((r) => [r.requestId, r]));
  const output: string = byId[1].output;
  assert.ok(output.startsWith("x".repeat(MAX_RESPONSE_OUTPUT_BYTES)));
  assert.ok(output.includes("the run's own line is kept"));
  assert.match(
    output,
    new RegExp(
      `output cut at ${MAX_RESPONSE_OUTPUT_BYTES} bytes; ${
        100 * (1 << 20) - MAX_RESPONSE_OUTPUT_BYTES
      } more bytes dropped`,
    ),
  );
  assert.ok(output.length < MAX_RESPONSE_OUTPUT_BYTES + 1000);
  assert.deepEqual(byId[2], { exitCode: 0, output: "", requestId: 2 });
});

Deno.test("at most MAX_CONCURRENT_RUNS requests run at once; the others wait and are all answered", async () => {
  let running = 0;
  let most = 0;
  const run: RunWrapper = async () => {
    most = Math.max(most, ++running);
    await delay(5);
    running--;
    return 0;
  };
  const count = 3 * MAX_CONCURRENT_RUNS;
  const { responses } = await serve(
    Array.from({ length: count }, (_, i) => request(i + 1, [])),
    run,
  );
  assert.equal(responses.length, count);
  assert.equal(most, MAX_CONCURRENT_RUNS);
});

Deno.test("a duplicate id in flight is refused, and the first request keeps its cancel handle", async () => {
  const run: RunWrapper = (_argv, io) =>
    new Promise((resolve) => io.cancel!.addEventListener("abort", () => resolve(137)));
  const stream = new TransformStream<Uint8Array, Uint8Array>();
  const writer = stream.writable.getWriter();
  const written: Record<string, unknown>[] = [];
  const serving = serveWorker([], run, {
    input: stream.readable,
    output: {
      write(bytes) {
        written.push(JSON.parse(new TextDecoder().decode(bytes)));
        return Promise.resolve(bytes.length);
      },
    },
    log: () => {},
  });
  await writer.write(encoder.encode(request(5, ["first"])));
  await writer.write(encoder.encode(request(5, ["duplicate"])));
  await delay(10);
  await writer.write(encoder.encode(JSON.stringify({ requestId: 5, cancel: true })));
  await writer.close();
  assert.equal(await serving, 0);
  assert.deepEqual(written, [
    {
      exitCode: 1,
      output: "process wrapper worker: request id 5 is already in flight\n",
      requestId: 5,
    },
    { exitCode: 137, output: "", requestId: 5, wasCancelled: true },
  ]);
});

Deno.test("out of file descriptors, the worker answers every request (errors say why) and never panics", async () => {
  const requests = Array.from(
    { length: 12 },
    (_, i) =>
      JSON.stringify({
        arguments: ["--", "/bin/sh", "-c", "sleep 0.2; echo hi"],
        requestId: i + 1,
      }),
  );
  await using dir = await tempDir();
  Deno.writeTextFileSync(`${dir.path}/requests`, requests.join("\n") + "\n");
  const result = await run("/bin/sh", [
    "-c",
    `ulimit -n 28 && exec "$DENO" run --quiet -A "$MAIN" --persistent_worker < requests`,
  ], { cwd: dir.path, env: { DENO: Deno.execPath(), MAIN: MAIN_TS } });
  assert.equal(result.code, 0, result.stderr);
  assert.doesNotMatch(result.stderr, /panicked/);
  const answers = result.stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(
    answers.map((answer) => answer.requestId).sort((a, b) => a - b),
    [
      ...Array(12).keys(),
    ].map((i) => i + 1),
  );
  for (const answer of answers) {
    if (answer.exitCode === 0) assert.equal(answer.output, "hi\n");
    else assert.match(answer.output, /^process wrapper error: .*Too many open files/);
  }
  assert.ok(answers.some((answer) => answer.exitCode !== 0), "the limit was not reached");
});

/** Reads the worker's next response line, failing by `what` after `ms`. */
async function nextResponse(
  lines: ReadableStreamDefaultReader<string>,
  ms: number,
  what: string,
): Promise<Record<string, unknown>> {
  const { value, done } = await within(lines.read(), ms, what);
  assert.equal(done, false, `${what}: the worker's stdout ended`);
  return JSON.parse(value!.trim());
}

Deno.test("the real wrapper as a worker: cancel kills a child three levels deep (a great-grandchild holding stderr)", async () => {
  await using dir = await tempDir();
  const worker = startWorker(dir.path, { stdout: "piped", stderr: "null" });
  await using _reaped = reaped(worker);
  const writer = worker.stdin.getWriter();
  const lines = worker.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await writer.write(encoder.encode(request(3, ["--", ...threeLevelChild(dir.path)])));
  using pids = await threeLevelPids(dir.path);
  await writer.write(encoder.encode(JSON.stringify({ requestId: 3, cancel: true }) + "\n"));
  // The great-grandchild left alive would hold the run for 600 s.
  const answer = await nextResponse(lines, 10_000, "the answer to the cancel");
  assert.equal(answer.wasCancelled, true);
  assert.deepEqual(await stillAlive(pids, 5000), [], "every level is dead");
  await writer.close();
  assert.equal((await within(worker.status, 10_000, "the worker's exit")).code, 0);
  await lines.cancel();
});

Deno.test("the real wrapper as a worker: SIGTERM kills a child three levels deep, then exits 143", async () => {
  await using dir = await tempDir();
  const worker = startWorker(dir.path, { stdout: "null", stderr: "null" });
  await using _reaped = reaped(worker);
  const writer = worker.stdin.getWriter();
  await writer.write(encoder.encode(request(4, ["--", ...threeLevelChild(dir.path)])));
  using pids = await threeLevelPids(dir.path);
  worker.kill("SIGTERM");
  const status = await within(worker.status, 10_000, "the worker's exit after SIGTERM");
  await writer.close().catch(() => {});
  assert.equal(status.code, 143);
  assert.deepEqual(await stillAlive(pids, 5000), [], "every level is dead");
});

Deno.test("an id answered is free again: multiplex and singleplex (0) ids reused after their response are served", async () => {
  const stream = new TransformStream<Uint8Array, Uint8Array>();
  const writer = stream.writable.getWriter();
  const answers: Record<string, unknown>[] = [];
  let answered = Promise.withResolvers<void>();
  const run: RunWrapper = (argv) => Promise.resolve(Number(argv[0]));
  const serving = serveWorker([], run, {
    input: stream.readable,
    output: {
      write(bytes) {
        answers.push(JSON.parse(new TextDecoder().decode(bytes)));
        answered.resolve();
        return Promise.resolve(bytes.length);
      },
    },
    log: () => {},
  });
  // Bazel sends the next request with an id only once that id was answered.
  for (const [id, exitCode] of [[5, 2], [5, 3], [0, 4], [0, 5]]) {
    answered = Promise.withResolvers<void>();
    await writer.write(encoder.encode(request(id, [String(exitCode)])));
    await within(answered.promise, 5000, `the answer to request ${id} (exit ${exitCode})`);
  }
  await writer.close();
  assert.equal(await serving, 0);
  assert.deepEqual(answers, [
    { exitCode: 2, output: "", requestId: 5 },
    { exitCode: 3, output: "", requestId: 5 },
    { exitCode: 4, output: "", requestId: 0 },
    { exitCode: 5, output: "", requestId: 0 },
  ]);
});

Deno.test("the real wrapper as a worker: a run waiting for a store locked elsewhere answers cancel, and SIGTERM ends the worker", async () => {
  await using dir = await tempDir();
  Deno.mkdirSync(`${dir.path}/store`);
  // Held by this process: the worker's runs wait for it.
  using held = Deno.openSync(`${dir.path}/store/lock`, { read: true, write: true, create: true });
  held.lockSync(true);
  const worker = startWorker(dir.path, { stdout: "piped", stderr: "null" });
  await using _reaped = reaped(worker);
  const writer = worker.stdin.getWriter();
  const lines = worker.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const compile = ["--incremental-store", "store", "--", "/bin/sh", "-c", "echo ran >> ran.txt"];
  await writer.write(encoder.encode(request(1, compile)));
  await delay(300);
  await writer.write(encoder.encode(JSON.stringify({ requestId: 1, cancel: true }) + "\n"));
  const answer = await nextResponse(
    lines,
    10_000,
    "the answer to a cancel while the store is busy",
  );
  assert.deepEqual([answer.requestId, answer.exitCode, answer.wasCancelled], [1, 1, true]);
  assert.match(String(answer.output), /store store: cancelled while waiting for its lock\n$/);

  await writer.write(encoder.encode(request(2, compile)));
  await delay(300);
  worker.kill("SIGTERM");
  const status = await within(
    worker.status,
    10_000,
    "the worker's exit on SIGTERM while the store is busy",
  );
  assert.equal(status.code, 143);
  assert.equal(existsAt(`${dir.path}/ran.txt`), false, "no child ran without the lock");
  await writer.close().catch(() => {});
  await lines.cancel();
});

Deno.test("the real wrapper as a worker: requests on one store one after another each get it (its lock is released after every run)", async () => {
  await using dir = await tempDir();
  const worker = startWorker(dir.path, { stdout: "piped", stderr: "null" });
  await using _reaped = reaped(worker);
  const writer = worker.stdin.getWriter();
  const lines = worker.stdout.pipeThrough(new TextDecoderStream()).getReader();
  for (const id of [1, 2, 3]) {
    const args = ["--incremental-store", "store", "--", "/bin/sh", "-c", 'echo "$1"', "sh"];
    await writer.write(encoder.encode(request(id, args)));
    // A lock left held by the previous run would keep this one waiting forever.
    const answer = await nextResponse(lines, 10_000, `the answer to request ${id} on the store`);
    assert.deepEqual([answer.requestId, answer.exitCode], [id, 0]);
    assert.equal(answer.output, "-Cincremental=store/incr\n");
  }
  await writer.close();
  assert.equal((await within(worker.status, 10_000, "the worker's exit")).code, 0);
  await lines.cancel();
});
