// Two gateway replicas, each in its own process, share one key's daily hard
// limit through the event log: each reads the other's completions back from
// Kafka (gateway/fleet-spend.ts). The limit is reached once across both,
// within the README's bound (the spend in flight plus the consumer lag), not
// once per replica; a replica restarted rejoins with the fleet's spend and
// refuses at once.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureTopics } from "../../eventlog/index.ts";
import { formatDecimal, parseDecimal } from "../../events/money.ts";
import { type KafkaBroker, startKafkaBroker } from "../kafka/broker.ts";
import { type Child, startChild, stopChild } from "./child-process.ts";
import { API_KEY, newTenant, startVendors } from "./harness.ts";

const GATEWAY_SCRIPT = new URL("./budget-gateway-process.ts", import.meta.url).pathname;
const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
const tenant = newTenant();
const HARD_LIMIT_USD = "0.002";
let broker: KafkaBroker;
let vendors: Awaited<ReturnType<typeof startVendors>>;
let directory: string;
const children: Child[] = [];

beforeAll(async () => {
  // A broker of this file's own: the budget counts every completion of key "fault" on it.
  broker = await startKafkaBroker();
  await ensureTopics(broker.brokers, { logger });
  vendors = await startVendors();
  directory = await mkdtemp(join(tmpdir(), "switchboard-fault-budget-"));
}, 90_000);

afterAll(async () => {
  await Promise.all(children.map((child) => stopChild(child)));
  await vendors?.close();
  await broker?.destroy();
  if (directory) await rm(directory, { recursive: true, force: true });
}, 30_000);

async function startReplica(name: string): Promise<{ child: Child; url: string }> {
  const child = startChild(GATEWAY_SCRIPT, {
    FAULT_BUDGET_GATEWAY: JSON.stringify({
      kafkaBrokers: broker.brokers,
      outboxDirectory: join(directory, name),
      tenant,
      vendors: vendors.vendors,
      hardLimitUsd: HARD_LIMIT_USD,
    }),
  });
  children.push(child);
  const url = (await child.line("LISTENING ", 60_000)).slice("LISTENING ".length).trim();
  return { child, url };
}

/** One completion: its cost when served, or "refused" on the budget's 429. */
async function complete(url: string, index: number): Promise<bigint | "refused"> {
  const response = await request(`${url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: JSON.stringify({
      model: "fast",
      messages: [{ role: "user", content: `Budget test request ${index}: ${"words ".repeat(20)}` }],
    }),
  });
  const body = await response.body.text();
  if (response.statusCode === 429 && body.includes("budget_exceeded")) return "refused";
  if (response.statusCode !== 200) {
    throw new Error(`request ${index} answered ${response.statusCode}: ${body.slice(0, 300)}`);
  }
  const cost = response.headers["x-switchboard-cost-usd"];
  if (typeof cost !== "string") throw new Error(`request ${index}: no cost header`);
  return parseDecimal(cost);
}

/** The replica's fleet lag, as its gauge reports it; NaN while it cannot be read. */
async function fleetLag(url: string): Promise<number> {
  const response = await fetch(`${url}/fault/fleet-lag`);
  if (!response.ok) return Number.NaN;
  return ((await response.json()) as { lag: number }).lag;
}

async function waitCaughtUp(replica: { url: string; child: Child }): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (let lag = await fleetLag(replica.url); lag !== 0; lag = await fleetLag(replica.url)) {
    if (Date.now() > deadline) {
      throw new Error(
        `${replica.url} never caught up with the fleet (lag ${lag}):\n${replica.child.output()}`,
      );
    }
    await sleep(100);
  }
}

describe("fault: two gateway replicas share a hard limit through the event log", () => {
  it("refuses on both once the fleet's spend reaches it, and a restarted replica rejoins with it", async () => {
    const [first, second] = await Promise.all([startReplica("a"), startReplica("b")]);
    const limit = parseDecimal(HARD_LIMIT_USD);
    // One request so both followers have joined and read something.
    let spent = 0n;
    const warmUp = await complete(first.url, 0);
    expect(warmUp).not.toBe("refused");
    spent += warmUp as bigint;
    await Promise.all([waitCaughtUp(first), waitCaughtUp(second)]);

    // Alternate between the replicas, one request at a time, each a little
    // after the last (longer than the followers' fetch wait, so the lag is
    // drained between requests): the bound is then one request's spend.
    const refusedBy = new Set<string>();
    let servedAfterLimit = 0;
    let largest = warmUp as bigint;
    for (let index = 1; refusedBy.size < 2; index += 1) {
      if (index > 400) throw new Error(`not refused by both after ${index} requests`);
      const replica = index % 2 === 0 ? first : second;
      const outcome = await complete(replica.url, index);
      if (outcome === "refused") {
        refusedBy.add(replica.url);
      } else {
        if (spent >= limit) servedAfterLimit += 1;
        spent += outcome;
        if (outcome > largest) largest = outcome;
      }
      await sleep(300);
    }
    // Reached, once: each replica alone would have let ~the limit through.
    expect(spent).toBeGreaterThanOrEqual(limit);
    // The limit is many requests' worth, so both replicas served a share of it.
    expect(limit / largest).toBeGreaterThanOrEqual(8n);
    // The bound: requests in flight (one) plus the lag (drained here).
    expect(
      servedAfterLimit,
      `spent ${formatDecimal(spent)} of ${HARD_LIMIT_USD}; largest request ${formatDecimal(largest)}`,
    ).toBe(0);
    expect(spent - limit).toBeLessThan(largest);

    // The second replica restarts: it reads the fleet's spend of the day back and refuses.
    await stopChild(second.child);
    const restarted = await startReplica("b");
    await waitCaughtUp(restarted);
    expect(await complete(restarted.url, 1_000)).toBe("refused");
    expect(await complete(first.url, 1_001)).toBe("refused");
  }, 120_000);
});
