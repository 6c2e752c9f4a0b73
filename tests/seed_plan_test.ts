import assert from "node:assert/strict";
import { isWritableBy, planSeed, sessionLockName } from "../mod/seed/mod.ts";
import { isBelowThreshold, thresholdBytes } from "../mod/seed/mod.ts";
import type { TreeListing } from "../mod/seed/mod.ts";

const listingOf = (directories: string[], files: string[]): TreeListing => ({
  directories,
  files,
});

const OLD = "s-hoh26h9y7v-08psrm5-4qdxcmiycgwseyxwbnyf403ui";
const NEW = "s-hoh27aaaaa-1abcdef-9zzzzzzzzzzzzzzzzzzzzzzzz";
const WORKING = "s-hoh28bbbbb-2abcdef-working";

Deno.test("a session's lock is named after its time and random parts", () => {
  assert.deepEqual(sessionLockName(OLD), "s-hoh26h9y7v-08psrm5.lock");
  assert.deepEqual(sessionLockName(WORKING), undefined);
  assert.deepEqual(sessionLockName("not-a-session"), undefined);
});

Deno.test("a plain tree is seeded whole, every file linked", () => {
  const plan = planSeed(listingOf(["a", "a/b"], ["top.txt", "a/b/x.o"]));
  assert.deepEqual(plan.directories, ["a", "a/b"]);
  assert.deepEqual(plan.files, [
    { path: "top.txt", method: "link", index: 0 },
    { path: "a/b/x.o", method: "link", index: 1 },
  ]);
  assert.deepEqual(plan.freshLocks, []);
  assert.deepEqual(plan.sessions, 0);
});

Deno.test("in a crate directory only the newest finalized session is seeded, with a fresh lock, its .o files as objects", () => {
  const crate = "lib-30x6h5izteku3";
  const listing = listingOf(
    [crate, `${crate}/${OLD}`, `${crate}/${NEW}`, `${crate}/${WORKING}`],
    [
      `${crate}/s-hoh26h9y7v-08psrm5.lock`,
      `${crate}/s-hoh27aaaaa-1abcdef.lock`,
      `${crate}/${OLD}/dep-graph.bin`,
      `${crate}/${OLD}/a.o`,
      `${crate}/${NEW}/dep-graph.bin`,
      `${crate}/${NEW}/query-cache.bin`,
      `${crate}/${NEW}/metadata.rmeta`,
      `${crate}/${NEW}/a.o`,
      `${crate}/${NEW}/b.o`,
      `${crate}/${WORKING}/dep-graph.bin`,
    ],
  );
  const plan = planSeed(listing);
  assert.deepEqual(plan.directories, [crate, `${crate}/${NEW}`]);
  assert.deepEqual(plan.freshLocks, [`${crate}/s-hoh27aaaaa-1abcdef.lock`]);
  assert.deepEqual(plan.sessions, 1);
  assert.deepEqual(
    plan.files.map((f) => [f.path.slice(crate.length + NEW.length + 2), f.method, f.index]),
    [
      ["dep-graph.bin", "link", 4],
      ["query-cache.bin", "link", 5],
      ["metadata.rmeta", "link", 6],
      ["a.o", "object", 7],
      ["b.o", "object", 8],
    ],
  );
});

Deno.test("a crate directory holding only a working session seeds no session", () => {
  const crate = "c-1";
  const plan = planSeed(listingOf([crate, `${crate}/${WORKING}`], [`${crate}/${WORKING}/x.o`]));
  assert.deepEqual(plan.directories, [crate]);
  assert.deepEqual(plan.files, []);
  assert.deepEqual(plan.freshLocks, []);
});

Deno.test("writability follows the owner's write bit; root needs a write bit too", () => {
  assert.deepEqual(isWritableBy({ mode: 0o644, uid: 5 }, { uid: 5 }), true);
  assert.deepEqual(isWritableBy({ mode: 0o644, uid: 5 }, { uid: 6 }), false);
  assert.deepEqual(isWritableBy({ mode: 0o644, uid: 5 }, { uid: 0 }), true);
  assert.deepEqual(isWritableBy({ mode: 0o444, uid: 0 }, { uid: 0 }), false);
});

Deno.test("the threshold: below skips, exactly at and above seed, 0 always seeds", () => {
  assert.deepEqual(thresholdBytes(20), 20 * 1024 * 1024);
  assert.deepEqual(isBelowThreshold(1024 * 1024 - 1, 1), true);
  assert.deepEqual(isBelowThreshold(1024 * 1024, 1), false);
  assert.deepEqual(isBelowThreshold(1024 * 1024 + 1, 1), false);
  assert.deepEqual(isBelowThreshold(0, 0), false);
});
