import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { isWritableBy, planSeed, sessionLockName } from "../mod/seed_plan.ts";
import { isBelowThreshold, thresholdBytes } from "../mod/threshold.ts";
import type { TreeWalk, WalkedFile } from "../mod/walk.ts";

const file = (path: string, mode = 0o644, uid = 1000): WalkedFile => ({
  path,
  size: 10,
  mode,
  uid,
});
const walkOf = (directories: string[], files: WalkedFile[]): TreeWalk => ({
  directories,
  files,
  totalBytes: files.reduce((sum, f) => sum + f.size, 0),
  skipped: 0,
});

const OLD = "s-hoh26h9y7v-08psrm5-4qdxcmiycgwseyxwbnyf403ui";
const NEW = "s-hoh27aaaaa-1abcdef-9zzzzzzzzzzzzzzzzzzzzzzzz";
const WORKING = "s-hoh28bbbbb-2abcdef-working";

Deno.test("a session's lock is named after its time and random parts", () => {
  assertEquals(sessionLockName(OLD), "s-hoh26h9y7v-08psrm5.lock");
  assertEquals(sessionLockName(WORKING), undefined);
  assertEquals(sessionLockName("not-a-session"), undefined);
});

Deno.test("a plain tree is seeded whole, every file linked", () => {
  const plan = planSeed(walkOf(["a", "a/b"], [file("top.txt"), file("a/b/x.o", 0o444)]), {
    uid: 1000,
  });
  assertEquals(plan.directories, ["a", "a/b"]);
  assertEquals(plan.files.map((f) => [f.file.path, f.method]), [["top.txt", "link"], [
    "a/b/x.o",
    "link",
  ]]);
  assertEquals(plan.freshLocks, []);
  assertEquals(plan.sessions, 0);
});

Deno.test("in a crate directory only the newest finalized session is seeded, with a fresh lock", () => {
  const crate = "lib-30x6h5izteku3";
  const walk = walkOf(
    [crate, `${crate}/${OLD}`, `${crate}/${NEW}`, `${crate}/${WORKING}`],
    [
      file(`${crate}/s-hoh26h9y7v-08psrm5.lock`, 0o444),
      file(`${crate}/s-hoh27aaaaa-1abcdef.lock`, 0o444),
      file(`${crate}/${OLD}/dep-graph.bin`),
      file(`${crate}/${NEW}/dep-graph.bin`, 0o444),
      file(`${crate}/${NEW}/query-cache.bin`, 0o444),
      file(`${crate}/${NEW}/metadata.rmeta`, 0o444),
      file(`${crate}/${NEW}/a.o`, 0o444),
      file(`${crate}/${NEW}/b.o`, 0o644, 1000),
      file(`${crate}/${WORKING}/dep-graph.bin`),
    ],
  );
  const plan = planSeed(walk, { uid: 1000 });
  assertEquals(plan.directories, [crate, `${crate}/${NEW}`]);
  assertEquals(plan.freshLocks, [`${crate}/s-hoh27aaaaa-1abcdef.lock`]);
  assertEquals(plan.sessions, 1);
  assertEquals(
    plan.files.map((f) => [f.file.path.slice(crate.length + NEW.length + 2), f.method]),
    [
      ["dep-graph.bin", "link"],
      ["query-cache.bin", "link"],
      ["metadata.rmeta", "link"],
      ["a.o", "writable-copy"],
      ["b.o", "link"],
    ],
  );
});

Deno.test("a crate directory holding only a working session seeds no session", () => {
  const crate = "c-1";
  const plan = planSeed(walkOf([crate, `${crate}/${WORKING}`], [file(`${crate}/${WORKING}/x.o`)]), {
    uid: 0,
  });
  assertEquals(plan.directories, [crate]);
  assertEquals(plan.files, []);
  assertEquals(plan.freshLocks, []);
});

Deno.test("writability follows the owner's write bit; root needs a write bit too", () => {
  assertEquals(isWritableBy(file("x", 0o644, 5), { uid: 5 }), true);
  assertEquals(isWritableBy(file("x", 0o644, 5), { uid: 6 }), false);
  assertEquals(isWritableBy(file("x", 0o644, 5), { uid: 0 }), true);
  assertEquals(isWritableBy(file("x", 0o444, 0), { uid: 0 }), false);
});

Deno.test("the threshold: below skips, exactly at and above seed, 0 always seeds", () => {
  assertEquals(thresholdBytes(20), 20 * 1024 * 1024);
  assertEquals(isBelowThreshold(1024 * 1024 - 1, 1), true);
  assertEquals(isBelowThreshold(1024 * 1024, 1), false);
  assertEquals(isBelowThreshold(1024 * 1024 + 1, 1), false);
  assertEquals(isBelowThreshold(0, 0), false);
});
