/**
 * Hostile conditions: concurrency, signals, big and odd trees, a full disk,
 * and unfriendly child output. Nothing the user owns is lost, the seed is
 * never changed, and nothing hangs.
 */

import assert from "node:assert/strict";
import { processIdentity, signalProcessTree, stopProcessTree } from "../mod/exec/process_tree.ts";
import { ORPHAN_GRACE_MS } from "../mod/exec/mod.ts";
import {
  existsAt,
  fingerprintTree,
  isAlive,
  MAIN_TS,
  MANY_FILES_PARENT,
  run,
  runWrapper,
  seedArgs,
  sigtermThreeLevels,
  sortedPaths,
  tempDir,
  threeLevelChild,
  which,
  within,
  wrapperCommand,
  writeScript,
} from "./helpers.ts";

/** A 1 MiB tmpfs at `path` (made here), unmounted when disposed: a disk that fills up. */
async function mountSmallDisk(path: string): Promise<AsyncDisposable> {
  Deno.mkdirSync(path);
  const mounted = await run("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", path]);
  if (mounted.code !== 0) throw new Error(`cannot mount a small tmpfs: ${mounted.stderr}`);
  return { [Symbol.asyncDispose]: async () => void await run("umount", [path]) };
}

function makeTree(root: string, files: number, perDirectory = 1000): void {
  for (let i = 0; i < files; i++) {
    const directory = `${root}/d${Math.floor(i / perDirectory)}`;
    if (i % perDirectory === 0) Deno.mkdirSync(directory, { recursive: true });
    Deno.writeTextFileSync(`${directory}/f${i}`, String(i));
  }
}

Deno.test("16 wrappers seed from one PREV at once: all complete, PREV byte-identical", async () => {
  await using dir = await tempDir("pw-many-", MANY_FILES_PARENT);
  makeTree(`${dir.path}/prev`, 5000, 500);
  Deno.chmodSync(`${dir.path}/prev/d0/f0`, 0o444);
  const before = await fingerprintTree(`${dir.path}/prev`);
  const results = await Promise.all(
    Array.from(
      { length: 16 },
      (_, i) =>
        runWrapper([...seedArgs("prev", `dest${i}`, `r${i}.json`), "--", "/bin/true"], {
          cwd: dir.path,
        }),
    ),
  );
  for (const [i, result] of results.entries()) {
    assert.deepEqual([result.code, result.stderr], [0, ""], `wrapper ${i}`);
    const report = JSON.parse(Deno.readTextFileSync(`${dir.path}/r${i}.json`));
    assert.deepEqual([report.mode, report.files], ["hardlink", 5000], `wrapper ${i}`);
  }
  assert.deepEqual(await fingerprintTree(`${dir.path}/prev`), before);
  assert.deepEqual(Deno.statSync(`${dir.path}/prev/d0/f0`).nlink, 17);
});

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
  Deno.test(`${signal} to the wrapper ends its child and the child's children, and exits ${code}`, async () => {
    await using dir = await tempDir();
    // The background sleep holds the pipes and, in a shell script, ignores SIGINT.
    const child = writeScript(
      dir.path,
      "sleepy.sh",
      "sleep 600 & echo $! > grandchild; echo $$ > pid; echo up >&2; wait",
    );
    const wrapper = wrapperCommand(["--", child], { cwd: dir.path }).spawn();
    const reader = wrapper.stderr.getReader();
    await reader.read(); // The child is running.
    reader.releaseLock();
    const childPid = Number(Deno.readTextFileSync(`${dir.path}/pid`));
    wrapper.kill(signal);
    // A grandchild left holding the pipes would keep the wrapper for 600 s.
    const status = await within(wrapper.status, 30_000, "the wrapper's exit");
    await wrapper.stdout.cancel();
    await wrapper.stderr.cancel();
    assert.deepEqual(status.code, code);
    const grandchild = Number(Deno.readTextFileSync(`${dir.path}/grandchild`));
    for (let i = 0; i < 50 && (isAlive(childPid) || isAlive(grandchild)); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(isAlive(childPid), false, "the child is gone");
    assert.deepEqual(isAlive(grandchild), false, "and so is its child");
  });
}

Deno.test("SIGTERM to the wrapper ends a child three levels deep (a great-grandchild holding stderr), exit 143", async () => {
  await using dir = await tempDir();
  const wrapper = wrapperCommand(["--", ...threeLevelChild(dir.path)], { cwd: dir.path }).spawn();
  assert.deepEqual(await sigtermThreeLevels(wrapper, dir.path), { code: 143, alive: [] });
});

Deno.test("a job the child orphaned holding stderr: the run ends about ORPHAN_GRACE_MS after the child", async () => {
  await using dir = await tempDir();
  // The job is no descendant once its shell has exited: only the pipe ties it to the run.
  const wrapper = wrapperCommand(
    ["--", "/bin/sh", "-c", "sleep 10 & echo $! > job; echo hi >&2"],
    { cwd: dir.path },
  ).spawn();
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const [status, stderr] = await Promise.race([
    Promise.all([wrapper.status, new Response(wrapper.stderr).text()]),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the wrapper waited for the orphan")), 5_000);
    }),
  ]).finally(() => clearTimeout(timer));
  const elapsed = performance.now() - started;
  await wrapper.stdout.cancel();
  Deno.kill(Number(Deno.readTextFileSync(`${dir.path}/job`)), "SIGKILL");
  assert.deepEqual([status.code, stderr], [0, "hi\n"]);
  assert.ok(elapsed >= ORPHAN_GRACE_MS, `${elapsed} ms: the pipe was not read to its grace`);
});

Deno.test("a stale identity (the same id, another start time) is never signalled", async () => {
  const stranger = new Deno.Command("/bin/sleep", { args: ["30"] }).spawn();
  try {
    const { pid, start } = processIdentity(stranger.pid);
    // What the wrapper holds once a process it listed is reaped and its id given to another.
    const stale = { pid, start: String(Number(start) - 1) };
    signalProcessTree(stale, "SIGKILL");
    await stopProcessTree(stale, "SIGTERM", Promise.resolve());
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(isAlive(pid), "a process that is not the one listed was signalled");
    signalProcessTree({ pid, start }, "SIGKILL");
    assert.equal((await stranger.status).signal, "SIGKILL");
  } finally {
    if (isAlive(stranger.pid)) stranger.kill("SIGKILL");
  }
});

Deno.test({
  name:
    "SIGTERM to a run whose child's job died: the job's id, reused by a stranger, is not killed",
  // A private PID namespace, where /proc/sys/kernel/ns_last_pid chooses the next id (it exists
  // for that namespace only): the stranger gets the dead job's id at once, not after 4M forks.
  ignore: Deno.uid() !== 0 || which("unshare") === undefined,
  async fn() {
    await using dir = await tempDir();
    // The child outlives its job: on SIGTERM it reaps the job, waits for the test to say "go",
    // then exits. It waits on a FIFO: a polling loop would fork, and every fork may take the id
    // meant for the stranger.
    writeScript(
      dir.path,
      "child.sh",
      "trap 'wait; read _ < go; exit 0' TERM; sleep 600 & echo $! > job; wait",
    );
    const scenario = writeScript(
      dir.path,
      "scenario.sh",
      `mkfifo go
"$DENO" run -A "$MAIN" -- ./child.sh &
wrapper=$!
while [ ! -s job ]; do sleep 0.05; done
job=$(cat job)
kill -TERM $wrapper
while [ -e /proc/$job ]; do sleep 0.05; done
# Another process may fork in between and take the id first: try again.
for attempt in $(seq 200); do
  echo $((job - 1)) > /proc/sys/kernel/ns_last_pid
  sleep 30 &
  stranger=$!
  [ "$stranger" = "$job" ] && break
  kill $stranger
done
[ "$stranger" = "$job" ] || { echo "the id $job was not reused"; exit 2; }
echo go > go
wait $wrapper
echo "wrapper $?"
if kill -0 $stranger 2>/dev/null; then echo "stranger alive"; kill $stranger; else echo "stranger killed"; fi
`,
    );
    const result = await run(
      "timeout",
      ["60", "unshare", "--pid", "--fork", "--mount-proc", scenario],
      { cwd: dir.path, env: { DENO: Deno.execPath(), MAIN: MAIN_TS } },
    );
    assert.deepEqual(result.stdout, "wrapper 143\nstranger alive\n", result.stderr);
  },
});

Deno.test("SIGKILL in the middle of a 100k-file seed: PREV intact, DEST partial links of PREV, a rerun completes", async () => {
  await using dir = await tempDir("pw-many-", MANY_FILES_PARENT);
  makeTree(`${dir.path}/prev`, 100_000);
  const listing = async () =>
    (await run("sh", ["-c", "find prev -printf '%P %y %m %s %T@ %i\\n' | sort"], { cwd: dir.path }))
      .stdout;
  const prevBefore = await listing();
  const killed = wrapperCommand([...seedArgs("prev", "dest1", "r1.json"), "--exit-early", "true"], {
    cwd: dir.path,
  }).spawn();
  // Kill once linking has begun: a first file is in DEST.
  const linkingStarted = () => {
    try {
      return [...Deno.readDirSync(`${dir.path}/dest1/d0`)].length > 0;
    } catch {
      return false;
    }
  };
  const started = performance.now();
  while (!linkingStarted() && performance.now() - started < 60_000) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  killed.kill("SIGKILL");
  assert.ok(linkingStarted(), "linking did not start within 60 s");
  assert.deepEqual(
    (await within(killed.status, 10_000, "the end of the killed wrapper")).signal,
    "SIGKILL",
    "killed before it finished",
  );
  await killed.stdout.cancel();
  await killed.stderr.cancel();

  assert.equal(await listing(), prevBefore, "PREV: same entries, modes, sizes, mtimes, inodes");
  // What the kill left: a part of PREV's files, each a hard link of PREV's, nothing else.
  const left = (await run("sh", ["-c", "cd dest1 && find . -type f -printf '%P %i\\n'"], {
    cwd: dir.path,
  })).stdout.trimEnd().split("\n").filter((line) => line !== "");
  const prevInodes = new Map(
    prevBefore.trimEnd().split("\n").map((line) => line.split(" ")).map((f) => [f[0], f[5]]),
  );
  assert.ok(left.length > 0 && left.length < 100_000, `${left.length} files left`);
  for (const line of left) {
    const [path, inode] = line.split(" ");
    assert.equal(prevInodes.get(path), inode, `${path} is not a link of PREV's`);
  }
  assert.equal(existsAt(`${dir.path}/r1.json`), false, "no report of a run that never finished");

  const rerun = await runWrapper([...seedArgs("prev", "dest2", "r2.json"), "--", "/bin/true"], {
    cwd: dir.path,
  });
  assert.deepEqual(rerun.code, 0, rerun.stderr);
  const report = JSON.parse(Deno.readTextFileSync(`${dir.path}/r2.json`));
  assert.deepEqual([report.mode, report.files, report.directories], ["hardlink", 100_000, 100]);
  assert.deepEqual(
    (await run("find", [`${dir.path}/dest2`, "-type", "f"])).stdout.split("\n").length - 1,
    100_000,
  );
});

Deno.test("odd trees: 200 levels deep, names with newlines, quotes, spaces and non-ASCII, empty files", async () => {
  await using dir = await tempDir();
  const names = ["new\nline", `quo"te's`, " spaced out ", "日本語-ü-😀", "-dash", "\\back\\slash"];
  let deep = `${dir.path}/seed`;
  for (let level = 0; level < 200; level++) {
    deep += `/${level % 2 ? "l" : `dir ${names[level % 6]}`}`;
  }
  Deno.mkdirSync(deep, { recursive: true });
  for (const name of names) {
    Deno.writeTextFileSync(`${dir.path}/seed/${name}`, name);
    Deno.writeFileSync(`${deep}/${name}`, new Uint8Array());
  }
  const result = await runWrapper([...seedArgs("seed", "dest", "r.json"), "--exit-early", "true"], {
    cwd: dir.path,
  });
  assert.deepEqual(result.code, 0, result.stderr);
  assert.deepEqual(sortedPaths(`${dir.path}/dest`), sortedPaths(`${dir.path}/seed`));
  for (const name of names) {
    assert.deepEqual(Deno.readTextFileSync(`${dir.path}/dest/${name}`), name);
    assert.deepEqual(Deno.statSync(`${deep.replace("/seed/", "/dest/")}/${name}`).size, 0);
  }
  const report = JSON.parse(Deno.readTextFileSync(`${dir.path}/r.json`));
  assert.deepEqual([report.mode, report.files, report.directories], ["hardlink", 12, 200]);
});

Deno.test({
  name:
    "disk full while seeding by copy: the child runs cold, the partial seed is gone, ENOSPC named",
  ignore: Deno.uid() !== 0 || MANY_FILES_PARENT === undefined,
  async fn() {
    await using dir = await tempDir("pw-full-", MANY_FILES_PARENT);
    await using work = await tempDir();
    const small = `${work.path}/small`;
    await using _mounted = await mountSmallDisk(small);
    {
      // 4 MiB of seed on another device: copied, not linked, into 1 MiB.
      for (let i = 0; i < 16; i++) {
        Deno.writeFileSync(`${dir.path}/f${i}`, new Uint8Array(256 * 1024).fill(i));
      }
      Deno.mkdirSync(`${small}/dest`);
      Deno.writeTextFileSync(`${small}/dest/mine.txt`, "mine");
      const child = writeScript(work.path, "child.sh", `ls -A "${small}/dest" > seen.txt`);
      const result = await runWrapper([
        ...seedArgs(dir.path, `${small}/dest`, "r.json"),
        "--",
        child,
      ], {
        cwd: work.path,
      });
      assert.deepEqual(result.code, 0, result.stderr);
      const lines = result.stderr.trimEnd().split("\n");
      assert.deepEqual(lines.length, 1, result.stderr);
      assert.ok(
        /No space left|ENOSPC|os error 28/.test(lines[0]) && lines[0].includes("starting cold"),
        lines[0],
      );
      assert.deepEqual(Deno.readTextFileSync(`${work.path}/seen.txt`), "mine.txt\n");
      assert.deepEqual(Deno.readTextFileSync(`${small}/dest/mine.txt`), "mine");
      const report = JSON.parse(Deno.readTextFileSync(`${work.path}/r.json`));
      assert.deepEqual([report.mode, report.files], ["failed", 0]);
    }
  },
});

Deno.test("child output: a 10 MB stderr line, binary garbage, no final newline, all forwarded exactly", async () => {
  await using dir = await tempDir();
  const garbage = Uint8Array.from({ length: 65536 }, (_, i) => (i * 7919) % 256);
  Deno.writeFileSync(`${dir.path}/garbage.bin`, garbage);
  const child = writeScript(
    dir.path,
    "noisy.sh",
    `head -c 10000000 /dev/zero | tr '\\0' x >&2; echo >&2; cat garbage.bin >&2; printf 'tail' >&2`,
  );
  const result = await wrapperCommand(["--", child], { cwd: dir.path }).output();
  assert.deepEqual(result.code, 0);
  const expected = new Uint8Array(10_000_001 + garbage.length + 4);
  expected.fill(0x78, 0, 10_000_000);
  expected[10_000_000] = 0x0a;
  expected.set(garbage, 10_000_001);
  expected.set(new TextEncoder().encode("tail"), 10_000_001 + garbage.length);
  assert.deepEqual(result.stderr.length, expected.length);
  assert.ok(result.stderr.every((byte, i) => byte === expected[i]), "bytes differ");
});

Deno.test("child output: a 10 MB rendered diagnostic and a final line without newline, rendered mode", async () => {
  await using dir = await tempDir();
  const big = "y".repeat(10_000_000);
  Deno.writeTextFileSync(
    `${dir.path}/diag.jsonl`,
    JSON.stringify({ $message_type: "diagnostic", rendered: big }) + "\n" +
      JSON.stringify({ $message_type: "diagnostic", rendered: "last\n" }),
  );
  const child = writeScript(dir.path, "diag.sh", "cat diag.jsonl >&2");
  const result = await runWrapper(["--rustc-output-format", "rendered", "--", child], {
    cwd: dir.path,
  });
  assert.deepEqual(result.code, 0);
  assert.deepEqual(result.stderr, big + "last\n");
});

Deno.test("child output: stderr closed early does not hang; 50 MB of stdout arrives whole", async () => {
  await using dir = await tempDir();
  const child = writeScript(
    dir.path,
    "quiet.sh",
    "exec 2>&-; sleep 0.2; head -c 50000000 /dev/zero",
  );
  const toFile = await runWrapper(["--stdout-file", "out.bin", "--", child], { cwd: dir.path });
  assert.deepEqual(toFile.code, 0, toFile.stderr);
  assert.deepEqual(Deno.statSync(`${dir.path}/out.bin`).size, 50_000_000);
  const inherited = await wrapperCommand(["--", child], { cwd: dir.path }).output();
  assert.deepEqual([inherited.code, inherited.stdout.length], [0, 50_000_000]);
});

Deno.test({
  name:
    "a full disk under any output file: one line naming the flag and ENOSPC, exit 1, the child stopped",
  ignore: Deno.uid() !== 0,
  async fn() {
    await using work = await tempDir();
    const small = `${work.path}/small`;
    await using _mounted = await mountSmallDisk(small);
    {
      // One process writing 4 MiB, then staying 30 s unless stopped.
      const writer = (stream: "stdout" | "stderr") =>
        writeScript(
          work.path,
          `${stream}.sh`,
          `exec '${Deno.execPath()}' eval 'const chunk = new Uint8Array(65536).fill(120);
for (let i = 0; i < 64; i++) { let at = 0; while (at < chunk.length) at += Deno.${stream}.writeSync(chunk.subarray(at)); }
setTimeout(() => {}, 30000)'`,
        );
      Deno.writeFileSync(`${work.path}/big`, new Uint8Array(4 << 20));
      const cases: [string, string[]][] = [
        ["--stderr-file", ["--stderr-file", `${small}/err`, "--", writer("stderr")]],
        ["--output-file", ["--output-file", `${small}/raw`, "--", writer("stderr")]],
        ["--copy-output", ["--copy-output", "big", `${small}/copy`, "--", "/bin/true"]],
      ];
      for (const [flag, args] of cases) {
        const started = performance.now();
        const result = await runWrapper(args, { cwd: work.path });
        // The child may say its own word (a broken pipe) before it is killed; the wrapper says one.
        const lines = result.stderr.split("\n").map((line) => line.replace(/^x+/, ""))
          .filter((line) => line.startsWith("process wrapper"));
        assert.equal(result.code, 1, `${flag}: ${result.stderr.slice(-300)}`);
        assert.equal(lines.length, 1, `${flag}: ${lines.join("\n")}`);
        assert.match(lines[0], new RegExp(`^process wrapper error: ${flag} .*No space left`));
        assert.ok(performance.now() - started < 20_000, `${flag}: the child was not stopped`);
        await run("sh", ["-c", `rm -f '${small}'/*`]);
      }
      // With --stdout-file the child writes the file itself, as upstream: its failure is its own.
      const direct = await runWrapper(["--stdout-file", `${small}/out`, "--", writer("stdout")], {
        cwd: work.path,
      });
      assert.notEqual(direct.code, 0);
      assert.match(direct.stderr, /No space left/);
      await run("sh", ["-c", `rm -f '${small}'/*`]);

      // A disk with no byte left: the seed report asked for cannot be written.
      await run("sh", ["-c", `dd if=/dev/zero of='${small}/fill' bs=64k 2>/dev/null`]);
      Deno.mkdirSync(`${work.path}/seed/d`, { recursive: true });
      Deno.writeTextFileSync(`${work.path}/seed/d/f`, "f");
      const report = await runWrapper(
        [...seedArgs("seed", "dest", `${small}/r.json`), "--", "/bin/true"],
        { cwd: work.path },
      );
      assert.equal(report.code, 1, report.stderr);
      assert.match(report.stderr, /^process wrapper error: --seed-report .*No space left.*\n$/);
    }
  },
});
