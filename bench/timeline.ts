/**
 * Where a rebuild's time goes, as a picture: one timeline per mode (the
 * rustc actions of a Bazel build, read from its profile, or the units of
 * cargo's `--timings` report), on one time axis, as an SVG.
 *
 * @module
 */

import { profiledActions } from "../fixtures/bazel.ts";

/** One bar: a rustc run (an action or a cargo unit), in ms from the build's start. */
export interface TimelineBar {
  readonly label: string;
  readonly startMs: number;
  readonly endMs: number;
  /** When its `.rmeta` was ready (cargo's pipelining point), if known. */
  readonly metadataMs?: number;
}

/** One mode's rebuild. */
export interface TimelineRow {
  readonly mode: string;
  /** The whole command's wall time. */
  readonly totalMs: number;
  readonly bars: readonly TimelineBar[];
}

/**
 * The rustc actions of a Bazel build, from its `--profile` file: each bar
 * is an action whose progress message begins "Compiling Rust" (`Rustc` and
 * `RustcMetadata`), labelled by it without that prefix.
 *
 * @example
 * ```ts ignore
 * const bars = await bazelBars("/tmp/profile-3.gz");
 * ```
 */
export async function bazelBars(profile: string): Promise<TimelineBar[]> {
  return (await profiledActions(profile))
    .filter((action) => action.name.startsWith("Compiling Rust "))
    .map((action) => ({
      label: action.name.replace(/^Compiling Rust /, "").replace(/ \(\d+ files?\)$/, ""),
      startMs: action.startMs,
      endMs: action.startMs + action.durationMs,
    }));
}

/**
 * The units of cargo's `--timings` report (`cargo-timing.html`, whose
 * `UNIT_DATA` gives each unit's start and duration in seconds, and when its
 * metadata was ready: `rmeta_time`, or the end of its `frontend` section).
 *
 * @example
 * ```ts
 * import { cargoBars } from "./timeline.ts";
 * import assert from "node:assert/strict";
 * const unit = { name: "parser", start: 0.5, duration: 1.25, sections: [["frontend", { start: 0, end: 0.25 }]] };
 * const html = `const UNIT_DATA = ${JSON.stringify([unit], null, 2)};\n`;
 * assert.deepEqual(cargoBars(html), [{ label: "parser", startMs: 500, endMs: 1750, metadataMs: 750 }]);
 * ```
 */
export function cargoBars(html: string): TimelineBar[] {
  const data = /const UNIT_DATA = (\[.*?\]);\n/s.exec(html);
  if (data === null) throw new Error("cargo's timing report has no UNIT_DATA");
  const units = JSON.parse(data[1]) as {
    name: string;
    start: number;
    duration: number;
    rmeta_time?: number | null;
    sections?: [string, { end: number }][];
  }[];
  return units.map((unit) => {
    const metadata = unit.rmeta_time ??
      unit.sections?.find(([section]) => section === "frontend")?.[1].end;
    return {
      label: unit.name,
      startMs: unit.start * 1000,
      endMs: (unit.start + unit.duration) * 1000,
      ...(metadata == null ? {} : { metadataMs: (unit.start + metadata) * 1000 }),
    };
  });
}

const LABEL_WIDTH = 300;
const PLOT_WIDTH = 900;
const LANE_HEIGHT = 16;
const ROW_GAP = 14;

/**
 * Draws the rows on one time axis: per row its wall time (grey) and its
 * rustc runs (blue; the part before the `.rmeta`, where known, darker),
 * stacked in lanes where they overlap.
 *
 * @example
 * ```ts
 * import { timelineSvg } from "./timeline.ts";
 * import assert from "node:assert/strict";
 * const svg = timelineSvg("edit", [
 *   { mode: "store", totalMs: 1000, bars: [{ label: "parser", startMs: 100, endMs: 700 }] },
 * ]);
 * assert.match(svg, /^<svg /);
 * assert.match(svg, /parser/);
 * ```
 */
export function timelineSvg(title: string, rows: readonly TimelineRow[]): string {
  const longest = Math.max(1, ...rows.map((row) => row.totalMs));
  const x = (ms: number) => LABEL_WIDTH + (ms / longest) * PLOT_WIDTH;
  const parts: string[] = [];
  let y = 40;
  for (const row of rows) {
    const bars = [...row.bars].sort((a, b) => a.startMs - b.startMs);
    const lanes = placeInLanes(bars);
    const height = Math.max(1, ...lanes.map((lane) => lane + 1)) * LANE_HEIGHT;
    parts.push(
      `<text x="4" y="${y + 12}" font-size="12">${escape(row.mode)}</text>`,
      `<text x="4" y="${y + 26}" font-size="11" fill="#555">${
        (row.totalMs / 1000).toFixed(2)
      } s</text>`,
      `<rect x="${LABEL_WIDTH}" y="${y}" width="${
        x(row.totalMs) - LABEL_WIDTH
      }" height="${height}" fill="#eee"/>`,
    );
    bars.forEach((bar, index) => {
      const top = y + lanes[index] * LANE_HEIGHT + 1;
      const width = Math.max(1, x(bar.endMs) - x(bar.startMs));
      parts.push(
        `<rect x="${x(bar.startMs)}" y="${top}" width="${width}" height="${
          LANE_HEIGHT - 2
        }" fill="#8ab4f8"><title>${escape(bar.label)}: ${
          (bar.endMs - bar.startMs).toFixed(0)
        } ms</title></rect>`,
      );
      if (bar.metadataMs !== undefined) {
        parts.push(
          `<rect x="${x(bar.startMs)}" y="${top}" width="${
            Math.max(1, x(bar.metadataMs) - x(bar.startMs))
          }" height="${LANE_HEIGHT - 2}" fill="#4a7fd4"/>`,
        );
      }
      if (width > 40) {
        parts.push(
          `<text x="${x(bar.startMs) + 3}" y="${top + 11}" font-size="10">${
            escape(bar.label.slice(0, Math.floor(width / 6)))
          }</text>`,
        );
      }
    });
    y += height + ROW_GAP;
  }
  const width = LABEL_WIDTH + PLOT_WIDTH + 20;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" ` +
    `font-family="sans-serif">`,
    `<rect width="${width}" height="${y + 10}" fill="white"/>`,
    `<text x="4" y="20" font-size="14">${escape(title)}</text>`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

/** For each bar, the first lane where it overlaps no earlier bar. */
function placeInLanes(bars: readonly TimelineBar[]): number[] {
  const laneEnds: number[] = [];
  return bars.map((bar) => {
    let lane = laneEnds.findIndex((end) => end <= bar.startMs);
    if (lane < 0) lane = laneEnds.length;
    laneEnds[lane] = bar.endMs;
    return lane;
  });
}

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
