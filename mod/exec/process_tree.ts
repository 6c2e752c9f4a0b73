/**
 * Signals a process and all its descendants, and listens for the signals
 * that stop a run. A grandchild that inherited the
 * child's stdout or stderr (a shell's background job, a linker's helper)
 * would otherwise keep the pipes open after the child is gone, and the run
 * would wait for it. The child stays in the wrapper's process group, so that
 * Bazel's own kill of the action's group still reaches it.
 *
 * @module
 */

/**
 * The process ids below `pid` (children, their children, ...), read from
 * `/proc`; empty where there is no `/proc`.
 *
 * @example
 * ```ts
 * import { descendants } from "./process_tree.ts";
 * import assert from "node:assert/strict";
 * const shell = new Deno.Command("/bin/sh", { args: ["-c", "sleep 5 & wait"] }).spawn();
 * await new Promise((resolve) => setTimeout(resolve, 200));
 * const [sleeper] = descendants(shell.pid);
 * assert.ok(Deno.readTextFileSync(`/proc/${sleeper}/cmdline`).startsWith("sleep"));
 * Deno.kill(sleeper, "SIGKILL");
 * await shell.status;
 * ```
 */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return [];
  }
  for (const entry of entries) {
    const child = Number(entry.name);
    if (!Number.isInteger(child)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${child}/stat`);
    } catch {
      continue; // It ended while the table was read.
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const siblings = children.get(parent);
    if (siblings) siblings.push(child);
    else children.set(parent, [child]);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = children.get(queue.pop()!) ?? [];
    found.push(...next);
    queue.push(...next);
  }
  return found;
}

/**
 * Sends `signal` to `pid` and every descendant it has now. Processes that are
 * already gone are skipped.
 *
 * @example
 * ```ts
 * import { signalProcessTree } from "./process_tree.ts";
 * import assert from "node:assert/strict";
 * const shell = new Deno.Command("/bin/sh", { args: ["-c", "sleep 30 & wait"] }).spawn();
 * await new Promise((resolve) => setTimeout(resolve, 200));
 * signalProcessTree(shell.pid, "SIGKILL");
 * assert.equal((await shell.status).signal, "SIGKILL");
 * ```
 */
export function signalProcessTree(pid: number, signal: Deno.Signal): void {
  // Listed before the signal: once the child dies its children move to another parent.
  signalEach([...descendants(pid), pid], signal);
}

/**
 * Sends `signal` to `pid` and its descendants, as a terminal's Ctrl-C reaches
 * a whole job, and once `pid` has `exited`, SIGKILLs those descendants that
 * still live: a background job of a shell ignores SIGINT, and would keep the
 * pipes (and the run) open for as long as it lasts.
 *
 * @example
 * ```ts
 * import { descendants, stopProcessTree } from "./process_tree.ts";
 * import assert from "node:assert/strict";
 * const shell = new Deno.Command("/bin/sh", { args: ["-c", "sleep 30 & wait"] }).spawn();
 * await new Promise((resolve) => setTimeout(resolve, 200));
 * const [sleeper] = descendants(shell.pid);
 * await stopProcessTree(shell.pid, "SIGINT", shell.status);
 * assert.equal((await shell.status).signal, "SIGINT");
 * assert.ok(!descendants(Deno.pid).includes(sleeper));
 * ```
 */
export async function stopProcessTree(
  pid: number,
  signal: Deno.Signal,
  exited: Promise<unknown>,
): Promise<void> {
  const tree = descendants(pid);
  signalEach([...tree, pid], signal);
  await exited;
  signalEach(tree, "SIGKILL");
}

function signalEach(pids: readonly number[], signal: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, signal);
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
