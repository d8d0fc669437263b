import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { handLedger, withScoredRequests } from "../test/fixtures/hand-ledger.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import { sampleQualityScored } from "../test/fixtures/sample-events.ts";
import { buildAnalytics } from "./app.ts";

// Every expected figure is computed by hand from test/fixtures/hand-ledger.ts:
// acme's code traffic on alpha/m1 is r1, r2, r3 (3 requests, $0.3, 300 input
// tokens of which 40 cached, 30 output, latencies 100/200/300 ms, helpful
// 2 of 3); on beta/m2 it is r4 (1 request, $0.000000000000000001, 1 input,
// 1 output token, 40 ms). acme's whole spend is $1.800000000000000001.

let clickhouse: TestClickHouse;
let app: FastifyInstance;

beforeAll(async () => {
  clickhouse = await freshClickHouse();
  await loadEvents(
    clickhouse.client,
    withScoredRequests([
      ...handLedger(),
      // A helpful score on beta's side too, so the delta has both sides.
      sampleQualityScored({ request_id: "r4", occurred_at: "2026-11-20T12:00:00.000Z" }),
    ]),
  );
  app = buildAnalytics({ clickhouse: clickhouse.client, logger: pino({ level: "silent" }) });
});
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

const PERIOD = { from: "2026-11-20T00:00:00Z", to: "2026-11-22T00:00:00Z", tenant: ["acme"] };
const ALPHA = { vendor: "alpha", model: "m1" };
const BETA = { vendor: "beta", model: "m2" };

async function whatIf(body: object) {
  const response = await app.inject({ method: "POST", url: "/v1/whatif", payload: body });
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

describe("POST /v1/whatif", () => {
  it("moves half of code from alpha to beta at a given price, by hand", async () => {
    const answer = await whatIf({
      ...PERIOD,
      moves: [
        {
          task: "code",
          from: ALPHA,
          to: BETA,
          share: "0.5",
          price: { input: "1", cached_input: "0.5", output: "2" },
        },
      ],
    });
    expect(answer.baseline).toEqual({ requests: 5, cost_usd: "1.800000000000000001" });
    // 1.800000000000000001 − 0.15 + 0.000006.
    expect(answer.projected).toMatchObject({
      cost_usd: "1.650006000000000001",
      delta_usd: "-0.149994",
    });
    const [move] = answer.moves;
    expect(move).toMatchObject({
      observed: {
        requests: 3,
        cost_usd: "0.3",
        input_tokens: 300,
        cached_input_tokens: 40,
        output_tokens: 30,
      },
      moved_requests: "1.5",
      removed_cost_usd: "0.15",
      // beta's 1 input token a request over alpha's 100; 1 output over 10.
      token_ratio: { input: 0.01, output: 0.1, method: expect.stringMatching(/^observed on code/) },
      // 0.5 × 300 × 0.01 = 1.5 → 2; 0.5 × 40 × 0.01 = 0.2 → 0; 0.5 × 30 × 0.1 = 1.5 → 2.
      projected_tokens: { input: 2, cached_input: 0, output: 2 },
      // 2 × $1 + 2 × $2 per million.
      projected_cost_usd: "0.000006",
      delta_usd: "-0.149994",
      pricing: expect.stringMatching(/price given/),
    });
    expect(move.latency_ms).toMatchObject({
      from: { mean: 200 },
      to: { mean: 40 },
      mean_delta: -160,
      ci95_low: null,
      interval: expect.stringMatching(/^none/),
    });
    expect(move.quality).toEqual([
      {
        metric: "helpful",
        from: { count: 3, mean: 2 / 3 },
        to: { count: 1, mean: 1 },
        delta: expect.closeTo(1 / 3, 12),
        // Newcombe from Wilson(2/3) = [0.207660, 0.938508] and Wilson(1/1) = [0.206549, 1].
        ci95_low: expect.closeTo(-0.5053929, 6),
        ci95_high: expect.closeTo(0.7923404, 6),
        interval: "newcombe-wilson",
      },
      {
        metric: "relevance",
        delta: null,
        note: "no relevance scores for beta/m2 on code in the period",
      },
      { metric: "tone", delta: null, note: expect.stringMatching(/categories/) },
    ]);
  });

  it("prices at the target's observed cost per request when no price is given", async () => {
    const answer = await whatIf({
      ...PERIOD,
      moves: [{ task: "code", from: ALPHA, to: BETA, share: "0.5" }],
    });
    // $0.000000000000000001 a request × 1.5 requests = 1.5e-18, truncated at 18 places.
    expect(answer.moves[0]).toMatchObject({
      projected_cost_usd: "0.000000000000000001",
      delta_usd: "-0.149999999999999999",
      pricing: "beta/m2's observed cost per request on code",
    });
  });

  it("says so when the target has no traffic and no price", async () => {
    const answer = await whatIf({
      ...PERIOD,
      moves: [{ task: "code", from: ALPHA, to: { vendor: "gamma", model: "m9" } }],
    });
    expect(answer.projected).toMatchObject({ cost_usd: null, delta_usd: null });
    expect(answer.moves[0]).toMatchObject({
      projected_cost_usd: null,
      token_ratio: { input: 1, output: 1, method: expect.stringMatching(/^assumed equal/) },
      pricing: expect.stringMatching(/^none: gamma\/m9 has no requests on code/),
    });
  });

  it("re-prices a candidate in place under a new contract", async () => {
    const answer = await whatIf({
      ...PERIOD,
      moves: [{ task: "code", from: ALPHA, to: ALPHA, price: { input: "0.5", output: "1" } }],
    });
    // 260 × $0.5 + 40 cached × $0.5 (cached defaults to input) + 30 × $1, per million.
    expect(answer.moves[0]).toMatchObject({
      projected_tokens: { input: 300, cached_input: 40, output: 30 },
      projected_cost_usd: "0.00018",
      delta_usd: "-0.29982",
      token_ratio: { method: "the same candidate: its own observed tokens" },
    });
    expect(answer.projected.cost_usd).toBe("1.500180000000000001");
  });

  it.each([
    [{ moves: [{ task: "code", from: ALPHA, to: BETA, share: "1.5" }] }, "moves.0.share"],
    [{ moves: [{ task: "code", from: ALPHA, to: ALPHA }] }, "moves.0.price"],
    [
      {
        moves: [
          { task: "code", from: ALPHA, to: BETA, share: "0.6" },
          { task: "code", from: ALPHA, to: { vendor: "gamma", model: "m3" }, share: "0.5" },
        ],
      },
      "moves.1.share",
    ],
    [{ moves: [] }, "moves"],
    [{ moves: [{ task: "code", from: ALPHA, to: BETA }], colour: "red" }, "colour"],
    [
      {
        from: "2026-11-22T00:00:00Z",
        to: "2026-11-20T00:00:00Z",
        moves: [{ task: "code", from: ALPHA, to: BETA }],
      },
      "from",
    ],
  ])("answers 400 naming the field %#", async (body, field) => {
    const response = await app.inject({ method: "POST", url: "/v1/whatif", payload: body });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: "invalid_parameter", field } });
  });
});
