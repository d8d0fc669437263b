// `switchboard eval` end to end on real parts: two simulated vendors scripted
// to answer the example gold set right (alpha) and mostly wrong (beta), a
// simulated judge, the gateway on a real port, the local event log, ingest
// into chDB and the analytics API. The runner's table must show the numbers a
// hand computation gives; its scores must arrive as quality_scored events of
// the graded requests, tagged with the gold set, and show in /v1/matrix.
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance } from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEMO_ANALYTICS_TOKEN } from "../../analytics/access.ts";
import { buildAnalytics } from "../../analytics/app.ts";
import { evalCommand } from "../../evals/command.ts";
import { type GraderSpec, parseGoldSet } from "../../evals/gold-set.ts";
import { judgeMessages } from "../../evals/graders.ts";
import { openEventLog } from "../../eventlog/index.ts";
import type { EventSink, EventSource } from "../../eventlog/ports.ts";
import { formatDecimal } from "../../events/money.ts";
import { buildGateway } from "../../gateway/app.ts";
import { sha256Hex } from "../../gateway/auth.ts";
import { gatewayConfig } from "../../gateway/config.ts";
import { PriceCatalog } from "../../gateway/pricing.ts";
import { INGEST_TOPICS, runIngest } from "../../ingest/consumer.ts";
import { EventLoader } from "../../ingest/loader.ts";
import {
  type RunningSimulator,
  type ScriptedReply,
  startSimulator,
} from "../../simulator/index.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../fixtures/clickhouse.ts";

const GOLD = new URL("../../examples/gold/capitals.jsonl", import.meta.url).pathname;
const KEY = "sk-eval-e2e";
const tenant = `eval-${randomUUID().slice(0, 8)}`;

// What each candidate answers, keyed by a piece of each case's prompt.
const ALPHA: Record<string, string> = {
  "capital of France? Answer": "Paris",
  "capital of Japan": "The capital is Tokyo.",
  "Berlin Wall": "1989-11-09",
  "as JSON": '{"city": "Paris", "country": "France"}',
  "city of Paris proper": "About 2,102,650 people.",
};
const BETA: Record<string, string> = {
  "capital of France? Answer": "Lyon",
  "capital of Japan": "I believe it is Tokyo.",
  "Berlin Wall": "9 November 1989",
  "as JSON": '{"city": "Paris"}',
  "city of Paris proper": "Around 11 million people.",
};
const JUDGE: Record<string, string> = {
  "Answer:\nParis\n": "It names Paris. Score: 5",
  "Answer:\nLyon\n": "Lyon is not the capital. Score: 1",
};
const scripts = (answers: Record<string, string>, model: string): ScriptedReply[] =>
  Object.entries(answers).map(([whenLastMessageContains, reply]) => ({
    whenLastMessageContains,
    model,
    reply,
  }));

// Per million tokens.
const PRICES = {
  alpha: { input: 1n, output: 2n },
  beta: { input: 5n, output: 10n },
  judge: { input: 1n, output: 1n },
};

let alpha: RunningSimulator;
let beta: RunningSimulator;
let gateway: FastifyInstance;
let gatewayUrl: string;
let analytics: FastifyInstance;
let clickhouse: TestClickHouse;
let sink: EventSink;
let source: EventSource;
let ingestion: Promise<void>;
let deadLetterSink: EventSink;
let eventDirectory: string;

beforeAll(async () => {
  const logger = pino({ level: "warn" });
  alpha = await startSimulator({
    models: [{ id: "sim-small" }, { id: "judge" }],
    scripts: [...scripts(JUDGE, "judge"), ...scripts(ALPHA, "sim-small")],
  });
  beta = await startSimulator({
    models: [{ id: "sim-small" }],
    scripts: scripts(BETA, "sim-small"),
  });
  const vendor = (id: string, simulator: RunningSimulator) => ({
    id,
    protocol: "openai",
    base_url: `${simulator.url}/v1`,
    api_key: "simulator",
  });
  const config = gatewayConfig.parse({
    port: 0,
    price_catalog: "-",
    api_keys: [{ id: "eval", tenant, sha256: sha256Hex(KEY) }],
    vendors: [vendor("alpha", alpha), vendor("beta", beta)],
    routes: [
      {
        model: "candidates",
        fallback: [
          { vendor: "alpha", model: "sim-small" },
          { vendor: "beta", model: "sim-small" },
        ],
      },
      { model: "judges", fallback: [{ vendor: "alpha", model: "judge" }] },
    ],
  });
  const prices = new PriceCatalog({
    version: "eval-1",
    currency: "USD",
    unit: "per_million_tokens",
    prices: [
      { vendor: "alpha", model: "sim-small", input: "1", output: "2" },
      { vendor: "beta", model: "sim-small", input: "5", output: "10" },
      { vendor: "alpha", model: "judge", input: "1", output: "1" },
    ],
  });
  eventDirectory = mkdtempSync(join(tmpdir(), "switchboard-eval-events-"));
  const eventLog = openEventLog({ localDirectory: eventDirectory });
  sink = await eventLog.createSink();
  gateway = buildGateway({ config, prices, sink, logger });
  gatewayUrl = await gateway.listen({ host: "127.0.0.1", port: 0 });
  clickhouse = await freshClickHouse();
  deadLetterSink = await eventLog.createSink();
  source = await eventLog.createSource(`eval-ingest-${tenant}`, INGEST_TOPICS);
  ingestion = runIngest(source, new EventLoader(clickhouse.client, deadLetterSink), logger);
  analytics = buildAnalytics({ clickhouse: clickhouse.client, logger });
});

afterAll(async () => {
  await gateway?.close();
  await sink?.close();
  await source?.close();
  await ingestion;
  await deadLetterSink?.close();
  await analytics?.close();
  await clickhouse?.close();
  await Promise.all([alpha?.close(), beta?.close()]);
  if (eventDirectory) rmSync(eventDirectory, { recursive: true, force: true });
});

/** The simulator's accounting (simulator/completion.ts), by hand: 3 + per message 3 + ⌈chars/4⌉. */
function promptTokens(texts: string[]): bigint {
  return BigInt(3 + texts.reduce((sum, text) => sum + 3 + Math.ceil(text.length / 4), 0));
}
const completionTokens = (reply: string) => BigInt(reply.match(/\s*\S+\s*/g)?.length ?? 0);
/** Exact USD at scale 18: tokens × price per million. */
const cost = (input: bigint, output: bigint, price: { input: bigint; output: bigint }) =>
  (input * price.input + output * price.output) * 10n ** 12n;

function expectedCost(
  answers: Record<string, string>,
  price: { input: bigint; output: bigint },
): string {
  const goldSet = parseGoldSet(readFileSync(GOLD, "utf8"), { path: GOLD });
  let total = 0n;
  for (const each of goldSet.cases) {
    const texts = [...(each.system ? [each.system] : []), each.prompt as string];
    const reply = Object.entries(answers).find(([key]) =>
      (each.prompt as string).includes(key),
    )?.[1] as string;
    total += cost(promptTokens(texts), completionTokens(reply), price);
  }
  return formatDecimal(total);
}

/** Both judge calls (capital-fr, answered Paris by alpha and Lyon by beta), by the same accounting. */
function expectedJudgeCost(): string {
  const goldSet = parseGoldSet(readFileSync(GOLD, "utf8"), { path: GOLD });
  const capital = goldSet.cases.find(
    (each) => each.id === "capital-fr",
  ) as (typeof goldSet.cases)[number];
  const judge = capital.graders.find((grader) => grader.type === "judge") as Extract<
    GraderSpec,
    { type: "judge" }
  >;
  let total = 0n;
  for (const [answer, verdict] of [
    ["Paris", JUDGE["Answer:\nParis\n"]],
    ["Lyon", JUDGE["Answer:\nLyon\n"]],
  ]) {
    const messages = judgeMessages(
      judge,
      capital.prompt as string,
      answer as string,
      capital.reference,
    );
    total += cost(
      promptTokens(messages.map((message) => message.content)),
      completionTokens(verdict as string),
      PRICES.judge,
    );
  }
  return formatDecimal(total);
}

async function waitFor<T>(probe: () => Promise<T | null>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await probe();
    if (result !== null) return result;
    if (Date.now() > deadline) throw new Error(`nothing arrived within ${timeoutMs} ms`);
    await sleep(100);
  }
}

describe("switchboard eval against the gateway and the simulator", () => {
  it("grades every case on every candidate, prints the table, and records the scores", async () => {
    let stdout = "";
    const collect = new Writable({
      write(chunk, _encoding, done) {
        stdout += String(chunk);
        done();
      },
    });
    const exitCode = await evalCommand(
      [
        "--gold",
        GOLD,
        "--candidates",
        "alpha/sim-small,beta/sim-small",
        "--judge",
        "alpha/judge",
        "--gateway",
        gatewayUrl,
        "--key",
        KEY,
        "--name",
        "capitals",
        "--version",
        "2026-11",
        "--concurrency",
        "3",
        "--no-progress",
      ],
      { stdout: collect, stderr: collect },
    );
    expect(exitCode).toBe(0);

    // ── The table ──
    const lines = stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("gold set capitals version 2026-11");
    const header = (lines[1] as string).split(/\s+/);
    expect(header).toEqual([
      "candidate",
      "cases",
      "passed",
      "pass_rate",
      "exact_match",
      "judge_score",
      "contains",
      "regex_match",
      "date_exact",
      "schema_match",
      "numeric_match",
      "errors",
      "cost_usd",
      "latency_ms_mean",
      "latency_ms_p50",
      "latency_ms_p95",
    ]);
    const row = (line: string) =>
      Object.fromEntries(line.split(/\s+/).map((cell, index) => [header[index], cell]));
    const alphaRow = row(lines[2] as string);
    const betaRow = row(lines[3] as string);
    expect(alphaRow).toMatchObject({
      candidate: "alpha/sim-small",
      cases: "5",
      passed: "5",
      pass_rate: "1.00",
      exact_match: "1.00",
      judge_score: "5/5",
      contains: "1.00",
      regex_match: "1.00",
      date_exact: "1.00",
      schema_match: "1.00",
      numeric_match: "1.00",
      errors: "0",
      cost_usd: expectedCost(ALPHA, PRICES.alpha),
    });
    expect(betaRow).toMatchObject({
      candidate: "beta/sim-small",
      cases: "5",
      passed: "1",
      pass_rate: "0.20",
      exact_match: "0.00",
      judge_score: "1/5",
      contains: "1.00",
      regex_match: "0.00",
      date_exact: "0.00",
      schema_match: "0.00",
      numeric_match: "0.00",
      errors: "0",
      cost_usd: expectedCost(BETA, PRICES.beta),
    });
    for (const each of [alphaRow, betaRow])
      expect(Number(each.latency_ms_p50)).toBeGreaterThanOrEqual(0);
    expect(lines[4]).toBe(
      `scores posted to /v1/feedback: 14; judge calls: 2, cost_usd ${expectedJudgeCost()}`,
    );
    // Why beta's four cases failed, one row each; alpha passed everything.
    expect(lines[5]).toBe("");
    expect(lines[6]).toBe("why cases failed");
    expect(lines[7]?.split(/\s+/)).toEqual(["candidate", "cases", "why"]);
    const why = lines.slice(8);
    expect(why).toHaveLength(4);
    for (const line of why) expect(line).toMatch(/^beta\/sim-small {2}/);
    expect(why[0]).toContain('exact_match: answered "Lyon"; judge_score: judged 1 (passes at 4)');

    // ── The events: one eval score per grader and candidate, on the graded request ──
    type Score = {
      request_id: string;
      metric: string;
      value_type: string;
      value_boolean: boolean | null;
      value_number: number | null;
      gold_set_name: string;
      gold_set_version: string;
      comment: string;
    };
    const scores = await waitFor(async () => {
      const rows = await queryRows<Score>(
        clickhouse.client,
        `SELECT request_id, metric, value.type AS value_type, value.boolean AS value_boolean, value.number AS value_number, gold_set_name, gold_set_version, comment
         FROM switchboard.quality_scored FINAL WHERE tenant_id = {tenant:String} AND source = 'eval'`,
        { tenant },
      );
      return rows.length >= 14 ? rows : null;
    });
    expect(scores).toHaveLength(14);
    for (const score of scores)
      expect(score).toMatchObject({ gold_set_name: "capitals", gold_set_version: "2026-11" });
    const completed = await waitFor(async () => {
      const rows = await queryRows<{
        request_id: string;
        vendor: string;
        model: string;
        task: string;
      }>(
        clickhouse.client,
        "SELECT request_id, vendor, model, task FROM switchboard.request_completed FINAL WHERE tenant_id = {tenant:String}",
        { tenant },
      );
      return rows.length >= 12 ? rows : null;
    });
    const byRequest = new Map(completed.map((each) => [each.request_id, each]));
    const verdicts = scores
      .map((score) => {
        const request = byRequest.get(score.request_id);
        const value =
          score.value_type === "boolean"
            ? Boolean(score.value_boolean)
            : Number(score.value_number);
        return `${request?.vendor}/${request?.model} ${request?.task} ${score.metric}=${value} ${score.comment}`;
      })
      .sort();
    expect(verdicts).toEqual(
      [
        "alpha/sim-small general exact_match=true case capital-fr",
        "alpha/sim-small general judge_score=5 case capital-fr",
        "alpha/sim-small general contains=true case capital-jp",
        "alpha/sim-small extraction regex_match=true case wall-date",
        "alpha/sim-small extraction date_exact=true case wall-date",
        "alpha/sim-small extraction schema_match=true case city-json",
        "alpha/sim-small general numeric_match=true case paris-population",
        'beta/sim-small general exact_match=false case capital-fr: answered "Lyon"',
        "beta/sim-small general judge_score=1 case capital-fr: judged 1 (passes at 4)",
        "beta/sim-small general contains=true case capital-jp",
        'beta/sim-small extraction regex_match=false case wall-date: "9 November 1989" does not match /^\\d{4}-\\d{2}-\\d{2}$/',
        'beta/sim-small extraction date_exact=false case wall-date: answered "9 November 1989"',
        "beta/sim-small extraction schema_match=false case city-json: / must have required property 'country'",
        "beta/sim-small general numeric_match=false case paris-population: 11 is not within 105000 of 2100000",
      ].sort(),
    );
    // The judge's own calls are in the ledger under their own task, and scored nothing.
    expect(
      completed.filter((each) => each.task === "eval-judge").map((each) => each.model),
    ).toEqual(["judge", "judge"]);

    // ── The matrix: the eval's quality per candidate ──
    // The rows come from the rollups and the raw events; poll until both scores and requests are in.
    const rows = await waitFor(async () => {
      const matrix = await analytics.inject({
        url: `/v1/matrix?group_by=tenant,vendor,model&tenant=${tenant}&metrics=requests,quality&quality_source=eval`,
        headers: { authorization: `Bearer ${DEMO_ANALYTICS_TOKEN}` },
      });
      expect(matrix.statusCode, matrix.body).toBe(200);
      const found = matrix.json().rows as {
        vendor: string;
        model: string;
        requests: number;
        quality: { metric: string; count: number; mean: number }[];
      }[];
      return found.reduce((sum, row) => sum + row.requests, 0) === 12 ? found : null;
    });
    const quality = (vendor: string, model: string) =>
      Object.fromEntries(
        rows
          .find((each) => each.vendor === vendor && each.model === model)
          ?.quality.map((each) => [each.metric, [each.count, each.mean]]) ?? [],
      );
    expect(quality("alpha", "sim-small")).toEqual({
      contains: [1, 1],
      date_exact: [1, 1],
      exact_match: [1, 1],
      judge_score: [1, 5],
      numeric_match: [1, 1],
      regex_match: [1, 1],
      schema_match: [1, 1],
    });
    expect(quality("beta", "sim-small")).toEqual({
      contains: [1, 1],
      date_exact: [1, 0],
      exact_match: [1, 0],
      judge_score: [1, 1],
      numeric_match: [1, 0],
      regex_match: [1, 0],
      schema_match: [1, 0],
    });
    expect(quality("alpha", "judge")).toEqual({});
  }, 90_000);
});
