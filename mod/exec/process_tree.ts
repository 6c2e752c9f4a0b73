/**
 * Signals a process and all its descendants, lowers a process's priority,
 * and listens for the signals that stop a run. A grandchild that inherited the
 * child's stdout or stderr (a shell's background job, a linker's helper)
 * would otherwise keep the pipes open after the child is gone, and the run
 * would wait for it. The child stays in the wrapper's process group, so that
 * Bazel's own kill of the action's group still reaches it.
 *
 * @module
 */

import { getPriority, setPriority } from "node:os";

/**
 * A process as it was seen: its id and its start time (clock ticks after
 * boot, from `/proc/<pid>/stat`). Once a process is reaped its id may be
 * given to any new process; the start time tells the two apart.
 */
export interface ProcessIdentity {
  /** Its process id. */
  readonly pid: number;
  /** Its start time; `""` if it was already gone; `undefined` where there is no `/proc`. */
  readonly start?: string;
}

/** One `/proc/<pid>/stat` read: the state, the parent and the start time. */
interface StatEntry {
  readonly state: string;
  readonly parent: number;
  readonly start: string;
}

function readStat(pid: number): StatEntry | undefined {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined; // Gone, or no /proc.
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses. Fields from
  // the state on: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
  // cmajflt utime stime cutime cstime priority nice num_threads itrealvalue starttime.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0], parent: Number(fields[1]), start: fields[19] };
}

/**
 * The identity of `pid` now. Take it while the process is surely the one
 * meant (a child not yet reaped), to signal it safely later.
 *
 * @example
 * ```ts
 * import { processIdentity } from "./process_tree.ts";
 * import assert from "node:assert/strict";
 * const self = processIdentity(Deno.pid);
 * assert.equal(self.pid, Deno.pid);
 * assert.match(self.start!, /^\d+$/);
 * ```
 */
export function processIdentity(pid: number): ProcessIdentity {
  const stat = readStat(pid);
  if (stat !== undefined) return { pid, start: stat.start };
  // Gone already (its id may be anyone's by now), or there is no /proc to tell.
  return { pid, start: readStat(Deno.pid) === undefined ? undefined : "" };
}

/**
 * Whether `process` still runs as the same process (a zombie has ended).
 * Without `/proc`, nothing can be told: `false`.
 *
 * @example
 * ```ts
 * import { isRunning, processIdentity } from "./process_tree.ts";
 * import assert from "node:assert/strict";
 * const self = processIdentity(Deno.pid);
 * assert.equal(isRunning(self), true);
 * assert.equal(isRunning({ pid: Deno.pid, start: "1" }), false);
 * ```
 */
export function isRunning(process: ProcessIdentity): boolean {
  const stat = readStat(process.pid);
  return stat !== undefined && stat.start === process.start && stat.state !== "Z";
}

/** Whether `process` still runs (or is a zombie) as the same process. */
function isSameProcess(process: ProcessIdentity): boolean {
  return process.start === undefined || readStat(process.pid)?.start === process.start;
}

/**
 * The processes below `root` (children, their children, ...), read from
 * `/proc`; empty where there is no `/proc`, or when `root` is no longer the
 * process it was (its id then names a stranger, whose children are not ours).
 *
 * @example
 * ```ts
 * import { descendants, processIdentity } from "./process_tree.ts";
 * import assert from "node:assert/strict";
 * const shell = new Deno.Command("/bin/sh", { args: ["-c", "sleep 5 & wait"] }).spawn();
 * await new Promise((resolve) => setTimeout(resolve, 200));
 * const [sleeper] = descendants(processIdentity(shell.pid));
 * assert.ok(Deno.readTextFileSync(`/proc/${sleeper.pid}/cmdline`).startsWith("sleep"));
 * Deno.kill(sleeper.pid, "SIGKILL");
 * await shell.status;
 * ```
 */
export function descendants(root: ProcessIdentity): ProcessIdentity[] {
  const children = new Map<number, ProcessIdentity[]>();
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return [];
  }
  let rootSeen = false;
  for (const entry of entries) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (stat === undefined) continue; // It ended while the table was read.
    if (pid === root.pid) rootSeen = stat.start === root.start;
    const siblings = children.get(stat.parent);
    const child = { pid, start: stat.start };
    if (siblings) siblings.push(child);
    else children.set(stat.parent, [child]);
  }
  if (!rootSeen) return [];
  const found: ProcessIdentity[] = [];
  const queue = [root.pid];
  while (queue.length > 0) {
    const next = children.get(queue.pop()!) ?? [];
    found.push(...next);
    queue.push(...next.map(({ pid }) => pid));
  }
  return found;
}

/**
 * Sends `signal` to `root` and every descendant it has now. Each process is
 * checked to be the same one right before its signal: one that is gone, or
 * whose id a stranger has taken since, is skipped.
 *
 * @example
 * ```ts
 * import { processIdentity, signalProcessTree } from "./process_tree.ts";
 * import assert from "node:assert/strict";
 * const shell = new Deno.Command("/bin/sh", { args: ["-c", "sleep 30 & wait"] }).spawn();
 * await new Promise((resolve) => setTimeout(resolve, 200));
 * signalProcessTree(processIdentity(shell.pid), "SIGKILL");
 * assert.equal((await shell.status).signal, "SIGKILL");
 * ```
 */
export function signalProcessTree(root: ProcessIdentity, signal: Deno.Signal): void {
  // Listed before the signal: once the child dies its children move to another parent. The
  // child first: it is not to see its children die and end in its own way first.
  const tree = descendants(root);
  signalEach([root, ...tree], signal);
}

/**
 * Sends `signal` to `root` and its descendants, as a terminal's Ctrl-C reaches
 * a whole job, and once `root` has `exited`, SIGKILLs those descendants that
 * still live (and are still the same processes): a background job of a shell
 * ignores SIGINT, and would keep the pipes (and the run) open for as long as
 * it lasts.
 *
 * @example
 * ```ts
 * import { descendants, processIdentity, stopProcessTree } from "./process_tree.ts";
 * import assert from "node:assert/strict";
 * const shell = new Deno.Command("/bin/sh", { args: ["-c", "sleep 30 & wait"] }).spawn();
 * await new Promise((resolve) => setTimeout(resolve, 200));
 * const [sleeper] = descendants(processIdentity(shell.pid));
 * await stopProcessTree(processIdentity(shell.pid), "SIGINT", shell.status);
 * assert.equal((await shell.status).signal, "SIGINT");
 * assert.ok(!descendants(processIdentity(Deno.pid)).some(({ pid }) => pid === sleeper.pid));
 * ```
 */
export async function stopProcessTree(
  root: ProcessIdentity,
  signal: Deno.Signal,
  exited: Promise<unknown>,
): Promise<void> {
  const tree = descendants(root);
  signalEach([root, ...tree], signal);
  await exited;
  signalEach(tree, "SIGKILL");
}

/**
 * Lowers the scheduling priority of every thread of `process` to its main
 * thread's niceness plus `steps` (at most 19), if it is still the same
 * process: under contention,
 * the CPU goes to the others first. Linux gives each thread its own niceness,
 * and threads started later inherit their starter's. Nothing happens where
 * there is no `/proc`, or for a thread gone meanwhile.
 *
 * @example
 * ```ts
 * import { lowerPriority, processIdentity } from "./process_tree.ts";
 * import assert from "node:assert/strict";
 * import os from "node:os";
 * const sleeper = new Deno.Command("sleep", { args: ["5"] }).spawn();
 * lowerPriority(processIdentity(sleeper.pid), 10);
 * assert.equal(os.getPriority(sleeper.pid), Math.min(19, os.getPriority() + 10));
 * sleeper.kill();
 * await sleeper.status;
 * ```
 */
export function lowerPriority(process: ProcessIdentity, steps: number): void {
  if (!isSameProcess(process)) return;
  let target: number;
  try {
    // One niceness for every thread: a thread started by one already lowered has it already.
    target = Math.min(19, getPriority(process.pid) + steps);
  } catch {
    return; // Gone.
  }
  const lowered = new Set<string>();
  // A thread not yet lowered may start another meanwhile, with its old niceness: once more,
  // until a pass finds no new thread.
  for (let pass = 0; pass < MAX_PRIORITY_PASSES; pass++) {
    let threads: string[];
    try {
      threads = [...Deno.readDirSync(`/proc/${process.pid}/task`)].map(({ name }) => name)
        .filter((name) => !lowered.has(name));
    } catch {
      return; // Gone, or no /proc.
    }
    if (threads.length === 0) return;
    for (const name of threads) {
      lowered.add(name);
      try {
        // Looked up right before: an ended thread's id could be given to a new process. As with a
        // signal, microseconds remain between the look and the call.
        Deno.statSync(`/proc/${process.pid}/task/${name}`);
        const thread = Number(name);
        if (getPriority(thread) < target) setPriority(thread, target);
      } catch {
        // The thread ended meanwhile.
      }
    }
  }
}

const MAX_PRIORITY_PASSES = 8;

function signalEach(processes: readonly ProcessIdentity[], signal: Deno.Signal): void {
  for (const process of processes) {
    // Checked right before the signal: an id is reused only after its process is reaped, which
    // takes its parent a system call; this leaves microseconds, where a list taken seconds
    // earlier left the whole run.
    if (!isSameProcess(process)) continue;
    try {
      Deno.kill(process.pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/** The signals that stop a run or a worker, with their numbers (the exit code is 128 + it). */
const STOP_SIGNALS = [["SIGTERM", 15], ["SIGINT", 2]] as const;

/**
 * Calls `handler` when this process gets SIGTERM or SIGINT, until disposed.
 * Such a signal then no longer ends the process by itself: the handler decides.
 *
 * @example
 * ```ts
 * import { onStopSignals } from "./process_tree.ts";
 * import assert from "node:assert/strict";
 * const received: number[] = [];
 * {
 *   using _listening = onStopSignals((_signal, number) => received.push(number));
 *   Deno.kill(Deno.pid, "SIGTERM");
 *   await new Promise((resolve) => setTimeout(resolve, 100));
 * }
 * assert.deepEqual(received, [15]);
 * ```
 */
export function onStopSignals(
  handler: (signal: Deno.Signal, number: number) => void,
): Disposable {
  const listeners = STOP_SIGNALS.map(([signal, number]) => {
    const listener = () => handler(signal, number);
    Deno.addSignalListener(signal, listener);
    return [signal, listener] as const;
  });
  return {
    [Symbol.dispose]() {
      for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    },
  };
}
