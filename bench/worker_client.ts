/**
 * A client for the wrapper's persistent-worker mode, as Bazel drives it:
 * one long-lived process, one JSON request at a time, one response line back.
 *
 * @module
 */

/** One response, with the round trip's wall time. */
export interface TimedResponse {
  /** The run's exit code. */
  readonly exitCode: number;
  /** What the run printed. */
  readonly output: string;
  /** Request written to response read, in milliseconds. */
  readonly milliseconds: number;
}

/**
 * A running worker.
 *
 * @example
 * ```ts
 * import { WorkerClient } from "./worker_client.ts";
 * await using worker = WorkerClient.start("main.ts", "/tmp");
 * const { milliseconds } = await worker.request(["--", "/bin/true"]);
 * ```
 */
export class WorkerClient implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffered = "";
  #nextId = 1;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Starts `deno run -A <mainTs> --persistent_worker` in `cwd` (its log goes nowhere). */
  static start(mainTs: string, cwd: string, env?: Record<string, string>): WorkerClient {
    return new WorkerClient(
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--quiet", "-A", mainTs, "--persistent_worker"],
        cwd,
        env,
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn(),
    );
  }

  /** Sends one request and waits for its response. */
  async request(args: readonly string[]): Promise<TimedResponse> {
    const started = performance.now();
    const request = { arguments: args, requestId: this.#nextId++ };
    await this.#writer.write(new TextEncoder().encode(JSON.stringify(request) + "\n"));
    while (!this.#buffered.includes("\n")) {
      const { value, done } = await this.#reader.read();
      if (done) throw new Error("the worker exited");
      this.#buffered += value;
    }
    const newline = this.#buffered.indexOf("\n");
    const response = JSON.parse(this.#buffered.slice(0, newline));
    this.#buffered = this.#buffered.slice(newline + 1);
    return { ...response, milliseconds: performance.now() - started };
  }

  /** Closes its stdin and waits for it to exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#writer.close();
    this.#reader.releaseLock();
    await this.#child.status;
  }
}
