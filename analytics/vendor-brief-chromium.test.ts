// The printable vendor brief, opened in a real browser: the analytics app
// serves it on 127.0.0.1 from data in chDB, Debian's headless Chromium loads
// it, and the test reads back both the DOM Chromium built (--dump-dom) and
// the pixels it painted (--screenshot): one bar per day in the chart, the
// figures equal to the JSON brief's. Chromium is required: without
// /usr/bin/chromium this test fails (CI installs it, .ci/run).
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { inflateSync } from "node:zlib";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SwitchboardEvent } from "../events/schemas.ts";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import { sampleAttemptFailed, sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { buildAnalytics } from "./app.ts";
import type { VendorBrief } from "./vendor-brief.ts";

const CHROMIUM = "/usr/bin/chromium";
const DAYS = ["2026-11-17", "2026-11-18", "2026-11-19", "2026-11-20"];
const WINDOW = "from=2026-11-17T00:00:00Z&to=2026-11-21T00:00:00Z";
/** The bars' fill in vendor-brief-render.ts (#3465a4). */
const BAR_COLOUR = [0x34, 0x65, 0xa4];

const run = promisify(execFile);
let clickhouse: TestClickHouse;
let app: FastifyInstance;
let baseUrl: string;
const scratch: string[] = [];

/** Alpha and beta on two tasks for four days, alpha's spend growing day by day, some failures. */
function ledger(): SwitchboardEvent[] {
  const events: SwitchboardEvent[] = [];
  DAYS.forEach((day, dayIndex) => {
    for (let index = 0; index < 6; index += 1) {
      const vendor = index % 3 === 2 ? "beta" : "alpha";
      const requestId = `${day}-${index}`;
      const failedOver = vendor === "alpha" && index === 4 && dayIndex % 2 === 1;
      events.push(
        sampleRequestCompleted({
          request_id: requestId,
          occurred_at: `${day}T${String(9 + index).padStart(2, "0")}:15:00.000Z`,
          vendor,
          model: vendor === "alpha" ? "a-large" : "b-small",
          task: index % 2 === 0 ? "code" : "general",
          attempts: failedOver ? 2 : 1,
          cost_usd: vendor === "alpha" ? `0.${dayIndex + 1}` : "0.05",
          list_cost_usd: vendor === "alpha" ? `0.${dayIndex + 2}` : "0.05",
          latency_ms: 100 + index * 10,
          ttft_ms: 40 + index * 5,
        }),
      );
      if (failedOver) {
        events.push(
          sampleAttemptFailed({
            request_id: requestId,
            occurred_at: `${day}T${String(9 + index).padStart(2, "0")}:14:59.000Z`,
            vendor: "alpha",
            model: "a-large",
            task: "code",
          }),
        );
      }
    }
  });
  return events;
}

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  await loadEvents(clickhouse.client, ledger());
  app = buildAnalytics({ clickhouse: clickhouse.client, logger: pino({ level: "silent" }) });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  baseUrl = `http://127.0.0.1:${address.port}`;
}, 60_000);
afterAll(async () => {
  await app.close();
  await clickhouse.close();
  for (const directory of scratch) rmSync(directory, { recursive: true, force: true });
});

/** Runs headless Chromium on a fresh profile with the given extra flags; its stdout. */
async function chromium(extraFlags: string[], url: string): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), "brief-chromium-"));
  scratch.push(profile);
  const { stdout } = await run(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      ...extraFlags,
      url,
    ],
    { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}

/** An 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes) as rows of RGB triples. */
function decodePng(file: Buffer): {
  width: number;
  height: number;
  pixel(x: number, y: number): number[];
} {
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  while (offset < file.length) {
    const length = file.readUInt32BE(offset);
    const type = file.toString("latin1", offset + 4, offset + 8);
    const body = file.subarray(offset + 8, offset + 8 + length);
    if (type === "IHDR") {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [bitDepth, colourType, , , interlace] = [
        body[8],
        body[9],
        body[10],
        body[11],
        body[12],
      ];
      if (bitDepth !== 8 || interlace !== 0 || (colourType !== 2 && colourType !== 6)) {
        throw new Error(
          `unexpected PNG: depth ${bitDepth}, colour ${colourType}, interlace ${interlace}`,
        );
      }
      channels = colourType === 6 ? 4 : 3;
    } else if (type === "IDAT") data.push(body);
    offset += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y += 1) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x += 1) {
      const value = raw[y * (stride + 1) + 1 + x] as number;
      const left = x >= channels ? (pixels[y * stride + x - channels] as number) : 0;
      const up = y > 0 ? (pixels[(y - 1) * stride + x] as number) : 0;
      const upLeft =
        y > 0 && x >= channels ? (pixels[(y - 1) * stride + x - channels] as number) : 0;
      let predicted = 0;
      if (filter === 1) predicted = left;
      else if (filter === 2) predicted = up;
      else if (filter === 3) predicted = (left + up) >> 1;
      else if (filter === 4) {
        const estimate = left + up - upLeft;
        const [toLeft, toUp, toUpLeft] = [
          Math.abs(estimate - left),
          Math.abs(estimate - up),
          Math.abs(estimate - upLeft),
        ];
        predicted = toLeft <= toUp && toLeft <= toUpLeft ? left : toUp <= toUpLeft ? up : upLeft;
      }
      pixels[y * stride + x] = (value + predicted) & 0xff;
    }
  }
  return {
    width,
    height,
    pixel: (x, y) => [...pixels.subarray(y * stride + x * channels, y * stride + x * channels + 3)],
  };
}

function textOf(html: string): string {
  return html
    .replace(/<[^>]+>/g, "")
    .replaceAll("&amp;", "&")
    .replace(/\s+/g, " ")
    .trim();
}

describe("the HTML vendor brief in headless Chromium", () => {
  it("has Chromium to run", () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
  });

  it("renders the chart and the figures of the JSON brief", async () => {
    const json = await app.inject(`/v1/vendors/alpha/brief?${WINDOW}`);
    const brief = json.json() as VendorBrief;
    // The hand-made ledger: alpha spent 4 × 0.1 + 4 × 0.2 + 4 × 0.3 + 4 × 0.4 = 4 over 16 requests.
    expect(brief.spend_usd).toBe("4");
    expect(brief.requests).toBe(16);
    expect(brief.spend_over_time).toHaveLength(DAYS.length);

    const dom = await chromium(
      ["--dump-dom"],
      `${baseUrl}/v1/vendors/alpha/brief?${WINDOW}&format=html`,
    );
    const chart = /<svg id="spend-chart"[\s\S]*?<\/svg>/.exec(dom)?.[0] ?? "";
    const bars = chart.match(/<rect class="bar"[^>]*>/g) ?? [];
    expect(bars).toHaveLength(brief.spend_over_time.length);
    // Spend grows day by day, so each bar is taller than the last.
    const heights = bars.map((bar) => Number(/height="([\d.]+)"/.exec(bar)?.[1]));
    expect(heights).toEqual([...heights].sort((a, b) => a - b));
    expect(new Set(heights).size).toBe(DAYS.length);
    const titles = [...chart.matchAll(/<title>([^<]*)<\/title>/g)].map((match) => match[1]);
    expect(titles).toEqual(
      brief.spend_over_time.map((day) =>
        expect.stringContaining(`${day.day.slice(0, 10)}: $${day.spend_usd}`),
      ),
    );

    const figure = (id: string) =>
      textOf(new RegExp(`<div class="figure" id="${id}">([\\s\\S]*?)</div>`).exec(dom)?.[1] ?? "");
    expect(figure("spend")).toBe(`$${brief.spend_usd}spend, ${brief.requests} requests`);
    expect(figure("savings")).toBe(`$${brief.savings_at_stake_usd}savings at stake`);

    const section = (heading: string) =>
      new RegExp(`<h2>${heading}</h2>([\\s\\S]*?)</section>`).exec(dom)?.[1] ?? "";
    const bodyRows = (html: string) =>
      (/<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? "").match(/<tr>/g) ?? [];
    expect(bodyRows(section("Tasks, beside the best alternative"))).toHaveLength(
      brief.tasks.length,
    );
    expect(bodyRows(section("Service levels"))).toHaveLength(brief.slo.length);
    expect(bodyRows(section("Failover incidents"))).toHaveLength(brief.failover_incidents.length);
    expect(brief.failover_incidents).toHaveLength(2);
  }, 90_000);

  it("paints one bar per day", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "brief-shot-")), "brief.png");
    scratch.push(join(file, ".."));
    await chromium(
      ["--hide-scrollbars", "--window-size=1000,1400", `--screenshot=${file}`],
      `${baseUrl}/v1/vendors/alpha/brief?${WINDOW}&format=html`,
    );
    const image = decodePng(readFileSync(file));
    const isBar = (x: number, y: number) =>
      image
        .pixel(x, y)
        .every((value, channel) => Math.abs(value - (BAR_COLOUR[channel] as number)) <= 2);
    // The row with the most bar pixels is the chart's baseline: every bar crosses it.
    let runs = 0;
    let best = 0;
    for (let y = 0; y < image.height; y += 1) {
      let count = 0;
      let rowRuns = 0;
      for (let x = 0; x < image.width; x += 1) {
        if (!isBar(x, y)) continue;
        count += 1;
        if (x === 0 || !isBar(x - 1, y)) rowRuns += 1;
      }
      if (count > best) [best, runs] = [count, rowRuns];
    }
    expect(best).toBeGreaterThan(100);
    expect(runs).toBe(DAYS.length);
  }, 90_000);
});
