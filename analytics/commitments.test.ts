import type { FastifyInstance } from "fastify";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contractConfig } from "../gateway/config.ts";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import { sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { buildAnalytics } from "./app.ts";
import { type CommitmentTerms, commitmentsOf } from "./commitments.ts";

// The ledger, by hand (tenant acme unless said; cost_usd is the contracted cost):
//   2026-10-31T23:59   alpha m1  50                     before every term
//   2026-11-02T12:00   alpha m1  10
//   2026-11-10T08:00   alpha m1  20.5
//   2026-11-12T09:00   alpha m2  7
//   2026-11-12T10:00   beta  m1  9
//   2026-11-12T11:00   alpha m1  11                     tenant globex
//   2026-11-15T00:00   alpha m1  3.000000000000000001
//   2026-11-18T06:00   beta  m2  2
//   2026-11-20T23:59:59.999 alpha m1 4
//   2026-11-21T00:00   alpha m1  1000                   at as_of: not yet consumed
const AS_OF = "2026-11-21T00:00:00Z";

function request(id: string, occurredAt: string, vendor: string, model: string, cost: string) {
  return sampleRequestCompleted({
    request_id: id,
    occurred_at: occurredAt,
    vendor,
    model,
    response_model: model,
    cost_usd: cost,
    list_cost_usd: cost,
  });
}

const LEDGER = [
  request("early", "2026-10-31T23:59:00.000Z", "alpha", "m1", "50"),
  request("a1", "2026-11-02T12:00:00.000Z", "alpha", "m1", "10"),
  request("a2", "2026-11-10T08:00:00.000Z", "alpha", "m1", "20.5"),
  request("a3", "2026-11-12T09:00:00.000Z", "alpha", "m2", "7"),
  request("b1", "2026-11-12T10:00:00.000Z", "beta", "m1", "9"),
  { ...request("g1", "2026-11-12T11:00:00.000Z", "alpha", "m1", "11"), tenant_id: "globex" },
  request("a4", "2026-11-15T00:00:00.000Z", "alpha", "m1", "3.000000000000000001"),
  request("b2", "2026-11-18T06:00:00.000Z", "beta", "m2", "2"),
  request("a5", "2026-11-20T23:59:59.999Z", "alpha", "m1", "4"),
  request("late", "2026-11-21T00:00:00.000Z", "alpha", "m1", "1000"),
];

const COMMITMENTS: CommitmentTerms[] = commitmentsOf([
  {
    id: "alpha-m1",
    vendor: "alpha",
    commitment: {
      amount: "100",
      currency: "USD",
      term_start: "2026-11-01",
      term_end: "2026-12-01",
      models: ["m1"],
    },
  },
  {
    id: "beta-all",
    vendor: "beta",
    commitment: {
      amount: "12",
      currency: "USD",
      term_start: "2026-11-01",
      term_end: "2027-01-01",
      models: "all",
    },
  },
  {
    id: "alpha-short",
    vendor: "alpha",
    commitment: {
      amount: "30",
      currency: "USD",
      term_start: "2026-11-01",
      term_end: "2026-11-15",
      models: "all",
    },
  },
  { id: "no-commitment", vendor: "gamma" },
]);

let clickhouse: TestClickHouse;
let app: FastifyInstance;
beforeAll(async () => {
  clickhouse = await freshClickHouse();
  await loadEvents(clickhouse.client, LEDGER);
  app = buildAnalytics({
    clickhouse: clickhouse.client,
    logger: pino({ level: "silent" }),
    commitments: COMMITMENTS,
  });
});
afterAll(async () => {
  await app.close();
  await clickhouse.close();
});

async function commitments(query: string) {
  const response = await app.inject(`/v1/commitments?${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

describe("GET /v1/commitments", () => {
  it("measures each commitment and forecasts it from the trailing 7 and 28 days", async () => {
    const answer = await commitments(`as_of=${AS_OF}&tenant=acme`);
    expect(answer.as_of).toBe("2026-11-21T00:00:00.000Z");
    expect(answer.commitments.map((entry: { contract_id: string }) => entry.contract_id)).toEqual([
      "alpha-m1",
      "beta-all",
      "alpha-short",
    ]);
    const [alpha, beta, short] = answer.commitments;

    // alpha m1, 100 over November (30 days), 20 days in, 10 left.
    // Consumed: 10 + 20.5 + 3.000000000000000001 + 4 = 37.500000000000000001
    // (not m2's 7, globex's 11, October's 50 or as_of's 1000).
    expect(alpha).toMatchObject({
      vendor: "alpha",
      models: ["m1"],
      currency: "USD",
      term_start: "2026-11-01T00:00:00.000Z",
      term_end: "2026-12-01T00:00:00.000Z",
      committed_usd: "100",
      consumed_usd: "37.500000000000000001",
      remaining_usd: "62.499999999999999999",
      days_left: 10,
      met_on: null,
    });
    expect(alpha.forecasts).toEqual([
      // [11-14, 11-21): 3.000000000000000001 + 4 = 7.000000000000000001 in 7 days.
      // Rate 7.000000000000000001 / 7 = 1.000000000000000000142… → 1.
      // Projected 37.500000000000000001 + 7.000000000000000001 × 10/7
      //   = 37.500000000000000001 + 10.000000000000000001(428…) = 47.500000000000000002.
      // Shortfall 100 − 47.500000000000000002. At 1 a day, 62.5 more is not within 10 days.
      {
        trailing_days: 7,
        window_from: "2026-11-14T00:00:00.000Z",
        window_to: "2026-11-21T00:00:00.000Z",
        window_spend_usd: "7.000000000000000001",
        daily_run_rate_usd: "1",
        projected_usd: "47.500000000000000002",
        projected_shortfall_usd: "52.499999999999999998",
        projected_overage_usd: "0",
        projected_met_on: null,
      },
      // 28 days back is 10-24, before the term: the window is the term's 20 days.
      // Rate 37.500000000000000001 / 20 = 1.87500000000000000005 → 1.875.
      // Projected 37.500000000000000001 + 37.500000000000000001 × 10/20 (18.7500000000000000005 → 18.75).
      {
        trailing_days: 28,
        window_from: "2026-11-01T00:00:00.000Z",
        window_to: "2026-11-21T00:00:00.000Z",
        window_spend_usd: "37.500000000000000001",
        daily_run_rate_usd: "1.875",
        projected_usd: "56.250000000000000001",
        projected_shortfall_usd: "43.749999999999999999",
        projected_overage_usd: "0",
        projected_met_on: null,
      },
    ]);

    // beta, all models, 12 over Nov–Dec (61 days); 41 days left (10 + 31).
    // Consumed 9 + 2 = 11; 1 to go.
    expect(beta).toMatchObject({
      models: "all",
      committed_usd: "12",
      consumed_usd: "11",
      remaining_usd: "1",
      days_left: 41,
      met_on: null,
    });
    expect(beta.forecasts).toEqual([
      // 7 days: 2 spent, 2/7 a day = 0.285714285714285714(285…).
      // Projected 11 + 2 × 41/7 = 11 + 11.714285714285714285(714…).
      // 1 more takes 7/2 = 3.5 days: 11-24T12:00, met on 11-24.
      expect.objectContaining({
        trailing_days: 7,
        window_spend_usd: "2",
        daily_run_rate_usd: "0.285714285714285714",
        projected_usd: "22.714285714285714285",
        projected_shortfall_usd: "0",
        projected_overage_usd: "10.714285714285714285",
        projected_met_on: "2026-11-24",
      }),
      // 28 days (the term's 20): 11 spent, 0.55 a day; projected 11 + 11 × 41/20 = 33.55.
      // 1 more takes 20/11 days = 1.8181… days: 11-22T19:38, met on 11-22.
      expect.objectContaining({
        trailing_days: 28,
        window_spend_usd: "11",
        daily_run_rate_usd: "0.55",
        projected_usd: "33.55",
        projected_shortfall_usd: "0",
        projected_overage_usd: "21.55",
        projected_met_on: "2026-11-22",
      }),
    ]);

    // alpha, all models, 30 over 11-01..11-15, ended before as_of: the whole term counts.
    // 10 (11-02) + 20.5 (11-10) = 30.5 ≥ 30 on 11-10; + 7 (m2, 11-12) = 37.5.
    expect(short).toMatchObject({
      committed_usd: "30",
      consumed_usd: "37.5",
      remaining_usd: "0",
      days_left: 0,
      met_on: "2026-11-10",
    });
    expect(short.forecasts).toEqual([
      // [11-08, 11-15): 20.5 + 7 = 27.5, 27.5/7 = 3.928571428571428571(428…); nothing left to project.
      expect.objectContaining({
        trailing_days: 7,
        window_from: "2026-11-08T00:00:00.000Z",
        window_to: "2026-11-15T00:00:00.000Z",
        window_spend_usd: "27.5",
        daily_run_rate_usd: "3.928571428571428571",
        projected_usd: "37.5",
        projected_shortfall_usd: "0",
        projected_overage_usd: "7.5",
        projected_met_on: null,
      }),
      // [11-01, 11-15): 37.5 / 14 = 2.678571428571428571(428…).
      expect.objectContaining({
        trailing_days: 28,
        window_spend_usd: "37.5",
        daily_run_rate_usd: "2.678571428571428571",
        projected_usd: "37.5",
        projected_overage_usd: "7.5",
      }),
    ]);
  });

  it("counts every tenant the caller may read, and filters by vendor", async () => {
    const answer = await commitments(`as_of=${AS_OF}&vendor=alpha`);
    expect(answer.commitments.map((entry: { contract_id: string }) => entry.contract_id)).toEqual([
      "alpha-m1",
      "alpha-short",
    ]);
    // globex's 11 on 11-12 counts too: 37.500000000000000001 + 11.
    expect(answer.commitments[0].consumed_usd).toBe("48.500000000000000001");
  });

  it("before the term: nothing consumed, no forecast, the whole term left", async () => {
    const answer = await commitments("as_of=2026-10-15T00:00:00Z&vendor=alpha&tenant=acme");
    expect(answer.commitments[0]).toMatchObject({
      consumed_usd: "0",
      remaining_usd: "100",
      days_left: 30,
      met_on: null,
      forecasts: null,
    });
  });

  it("answers an empty list without commitments in config, and refuses unknown parameters", async () => {
    const bare = buildAnalytics({
      clickhouse: clickhouse.client,
      logger: pino({ level: "silent" }),
    });
    const response = await bare.inject("/v1/commitments");
    expect(response.json().commitments).toEqual([]);
    await bare.close();
    const refused = await app.inject("/v1/commitments?currency=EUR");
    expect(refused.statusCode).toBe(400);
  });

  it("needs an analytics token, like every analytics endpoint", async () => {
    const guarded = buildAnalytics({
      clickhouse: clickhouse.client,
      logger: pino({ level: "silent" }),
      tokens: [{ id: "t", sha256: "0".repeat(64), admin: true }],
      commitments: COMMITMENTS,
    });
    const response = await guarded.inject("/v1/commitments");
    expect(response.statusCode).toBe(401);
    await guarded.close();
  });
});

describe("contracts[].commitment in config", () => {
  const contract = {
    id: "alpha-2027",
    vendor: "alpha",
    effective_from: "2027-01-01",
    discount_percent: "10",
  };
  const commitment = {
    amount: "250000.50",
    currency: "USD",
    term_start: "2027-01-01",
    term_end: "2028-01-01",
  };

  it("is optional, and counts all models unless given a list", () => {
    expect(contractConfig.parse(contract).commitment).toBeUndefined();
    expect(contractConfig.parse({ ...contract, commitment }).commitment?.models).toBe("all");
    const listed = contractConfig.parse({
      ...contract,
      commitment: { ...commitment, models: ["m1"] },
    });
    expect(listed.commitment?.models).toEqual(["m1"]);
  });

  it("refuses a currency other than USD, naming the field", () => {
    const result = contractConfig.safeParse({
      ...contract,
      commitment: { ...commitment, currency: "EUR" },
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues).toEqual([
      expect.objectContaining({
        path: ["commitment", "currency"],
        message: expect.stringContaining("currency conversion is not built yet"),
      }),
    ]);
  });

  it("refuses an amount that is not an exact decimal string, and a term that ends before it starts", () => {
    for (const bad of [{ amount: 100 }, { amount: "1e5" }, { amount: "-5" }]) {
      expect(
        contractConfig.safeParse({ ...contract, commitment: { ...commitment, ...bad } }).success,
      ).toBe(false);
    }
    const backwards = contractConfig.safeParse({
      ...contract,
      commitment: { ...commitment, term_end: "2026-06-01" },
    });
    expect(backwards.error?.issues[0]?.path).toEqual(["commitment", "term_end"]);
  });
});
