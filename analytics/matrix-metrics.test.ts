import { describe, expect, it } from "vitest";
import { useHandLedgerApi } from "../test/fixtures/hand-ledger-api.ts";

// Every expected number below is computed by hand from test/fixtures/hand-ledger.ts.

const api = useHandLedgerApi();
const matrix = api.matrix;

describe("GET /v1/matrix metrics", () => {
  it("computes every metric for tenant acme by vendor and task, exact quantiles", async () => {
    const answer = await matrix("tenant=acme&metrics=all&quantile_method=exact");
    expect(answer.quantiles).toEqual({
      method: "exact",
      approximate: false,
      note: expect.any(String),
    });
    // acme's spend: 0.1 + 0.2 + 0 + 0.000000000000000001 + 1.5 = 1.800000000000000001.
    // alpha's list spend: 0.125 + 0.25 + 0 (r3: no price known) = 0.375, 0.075 saved.
    expect(answer.rows).toEqual([
      {
        vendor: "alpha",
        task: "code",
        requests: 3,
        succeeded: 2,
        failed_attempts: 0,
        share_of_requests: "0.6",
        // 0.3 / 1.800000000000000001, truncated at 18 places.
        share_of_spend: "0.166666666666666666",
        cost_usd: "0.3",
        list_spend_usd: "0.375",
        savings_vs_list_usd: "0.075",
        unpriced_requests: 1,
        cost_per_request_usd: "0.1",
        cost_per_success_usd: "0.15",
        success_rate: 2 / 3,
        failover_rate: 1 / 3,
        input_tokens: 300,
        cached_input_tokens: 40,
        cache_write_input_tokens: 0,
        output_tokens: 30,
        reasoning_tokens: 0,
        // latencies 100, 200, 300: the value at floor(q · n) of the sorted list.
        latency_ms_p50: 200,
        latency_ms_p95: 300,
        latency_ms_p99: 300,
        // ttft 50, 80 (r3 had none).
        ttft_ms_p50: 80,
        ttft_ms_p95: 80,
        ttft_ms_p99: 80,
        quality: [
          {
            metric: "helpful",
            type: "boolean",
            count: 3,
            mean: 2 / 3,
            ci95_low: expect.closeTo(0.2076596, 6),
            ci95_high: expect.closeTo(0.9385081, 6),
            interval: "wilson",
          },
          {
            metric: "relevance",
            type: "number",
            minimum: 0,
            maximum: 5,
            count: 3,
            mean: 4,
            standard_deviation: 1,
            // 4 ± t(2) · 1 / √3 = 4 ± 2.484138.
            ci95_low: expect.closeTo(1.515862, 6),
            ci95_high: expect.closeTo(6.484138, 6),
            interval: "student-t",
          },
          {
            metric: "tone",
            type: "category",
            count: 2,
            categories: [
              {
                category: "casual",
                count: 1,
                share: 0.5,
                ci95_low: expect.closeTo(0.0945312, 6),
                ci95_high: expect.closeTo(0.9054688, 6),
              },
              {
                category: "formal",
                count: 1,
                share: 0.5,
                ci95_low: expect.closeTo(0.0945312, 6),
                ci95_high: expect.closeTo(0.9054688, 6),
              },
            ],
            interval: "wilson",
          },
        ],
      },
      {
        vendor: "beta",
        task: "code",
        requests: 1,
        succeeded: 1,
        failed_attempts: 0,
        share_of_requests: "0.2",
        share_of_spend: "0",
        cost_usd: "0.000000000000000001",
        list_spend_usd: "0.000000000000000001",
        savings_vs_list_usd: "0",
        unpriced_requests: 0,
        cost_per_request_usd: "0.000000000000000001",
        cost_per_success_usd: "0.000000000000000001",
        success_rate: 1,
        failover_rate: 0,
        input_tokens: 1,
        cached_input_tokens: 0,
        cache_write_input_tokens: 0,
        output_tokens: 1,
        reasoning_tokens: 0,
        latency_ms_p50: 40,
        latency_ms_p95: 40,
        latency_ms_p99: 40,
        ttft_ms_p50: 20,
        ttft_ms_p95: 20,
        ttft_ms_p99: 20,
        quality: [
          {
            metric: "tone",
            type: "category",
            count: 1,
            categories: [
              {
                category: "formal",
                count: 1,
                share: 1,
                ci95_low: expect.closeTo(0.2065493, 6),
                ci95_high: 1,
              },
            ],
            interval: "wilson",
          },
        ],
      },
      {
        vendor: "beta",
        task: "general",
        requests: 1,
        succeeded: 1,
        failed_attempts: 0,
        share_of_requests: "0.2",
        share_of_spend: "0.833333333333333332",
        cost_usd: "1.5",
        list_spend_usd: "1.5",
        savings_vs_list_usd: "0",
        unpriced_requests: 0,
        cost_per_request_usd: "1.5",
        cost_per_success_usd: "1.5",
        success_rate: 1,
        failover_rate: 0,
        input_tokens: 30,
        cached_input_tokens: 30,
        cache_write_input_tokens: 0,
        output_tokens: 40,
        reasoning_tokens: 0,
        latency_ms_p50: 70,
        latency_ms_p95: 70,
        latency_ms_p99: 70,
        ttft_ms_p50: null,
        ttft_ms_p95: null,
        ttft_ms_p99: null,
        quality: [],
      },
      {
        vendor: "gamma",
        task: "code",
        requests: 0,
        succeeded: 0,
        failed_attempts: 1,
        share_of_requests: "0",
        share_of_spend: "0",
        cost_usd: "0",
        list_spend_usd: "0",
        savings_vs_list_usd: "0",
        unpriced_requests: 0,
        cost_per_request_usd: null,
        cost_per_success_usd: null,
        success_rate: null,
        failover_rate: null,
        input_tokens: 0,
        cached_input_tokens: 0,
        cache_write_input_tokens: 0,
        output_tokens: 0,
        reasoning_tokens: 0,
        latency_ms_p50: null,
        latency_ms_p95: null,
        latency_ms_p99: null,
        ttft_ms_p50: null,
        ttft_ms_p95: null,
        ttft_ms_p99: null,
        quality: [],
      },
    ]);
  });

  it("says when quantiles are approximate, and agrees on the exact figures", async () => {
    const approximate = await matrix("tenant=acme&metrics=requests,cost_usd,latency_ms_p95");
    expect(approximate.quantiles).toMatchObject({ method: "t-digest", approximate: true });
    expect(approximate.rows.map((row: { cost_usd: string }) => row.cost_usd)).toEqual([
      "0.3",
      "0.000000000000000001",
      "1.5",
      "0",
    ]);
    // Three values: t-digest keeps each as its own centroid and lands on them.
    expect(approximate.rows[0].latency_ms_p95).toBe(300);
  });

  it.each([
    [
      "hour",
      [
        ["2026-11-20T10:00:00Z", 3, "0.300000000000000001"],
        ["2026-11-20T11:00:00Z", 1, "0"],
        ["2026-11-21T09:00:00Z", 1, "1.5"],
      ],
    ],
    [
      "day",
      [
        ["2026-11-20T00:00:00Z", 4, "0.300000000000000001"],
        ["2026-11-21T00:00:00Z", 1, "1.5"],
      ],
    ],
    // 2026-11-20 is a Friday: its week starts on Monday the 16th, as does the 21st's.
    ["week", [["2026-11-16T00:00:00Z", 5, "1.800000000000000001"]]],
    ["month", [["2026-11-01T00:00:00Z", 5, "1.800000000000000001"]]],
  ])("groups by %s in UTC", async (bucket, expected) => {
    const answer = await matrix(`tenant=acme&group_by=${bucket}&metrics=requests,cost_usd`);
    expect(
      answer.rows.map((row: Record<string, unknown>) => [row[bucket], row.requests, row.cost_usd]),
    ).toEqual(expected);
  });

  it("combines a time bucket with dimensions", async () => {
    const answer = await matrix("tenant=acme&group_by=vendor,day&metrics=requests");
    expect(answer.rows).toEqual([
      { vendor: "alpha", day: "2026-11-20T00:00:00Z", requests: 3 },
      { vendor: "beta", day: "2026-11-20T00:00:00Z", requests: 1 },
      { vendor: "beta", day: "2026-11-21T00:00:00Z", requests: 1 },
      { vendor: "gamma", day: "2026-11-20T00:00:00Z", requests: 0 },
    ]);
  });

  it.each([
    [
      "vendor=alpha&vendor=beta",
      [
        ["alpha", 4],
        ["beta", 2],
      ],
    ],
    [
      "vendor=alpha,gamma",
      [
        ["alpha", 4],
        ["gamma", 0],
      ],
    ],
    ["model=m2", [["beta", 2]]],
    ["task=general", [["beta", 1]]],
    ["task=code&tenant=globex", [["alpha", 1]]],
    ["tenant=acme,globex&vendor=alpha", [["alpha", 4]]],
  ])("filters by %s", async (filter, expected) => {
    const answer = await matrix(`${filter}&group_by=vendor&metrics=requests`);
    expect(
      answer.rows.map((row: { vendor: string; requests: number }) => [row.vendor, row.requests]),
    ).toEqual(expected);
  });

  it("reads quality only from the sources asked for", async () => {
    const answer = await matrix(
      "tenant=acme&group_by=vendor&vendor=alpha&metrics=quality&quality_source=human",
    );
    expect(answer.rows).toEqual([
      {
        vendor: "alpha",
        quality: [
          {
            metric: "helpful",
            type: "boolean",
            count: 2,
            mean: 0.5,
            ci95_low: expect.closeTo(0.0945312, 6),
            ci95_high: expect.closeTo(0.9054688, 6),
            interval: "wilson",
          },
        ],
      },
    ]);
  });

  it("answers an empty window with no rows", async () => {
    const response = await api
      .app()
      .inject("/v1/matrix?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z&metrics=all");
    expect(response.json().rows).toEqual([]);
  });

  it.each([
    ["group_by=day,hour", "group_by"],
    ["group_by=team,colour", "group_by"],
    ["team=search&key=", "key"],
    ["metrics=requests,colour", "metrics"],
    ["quantile_method=median", "quantile_method"],
    ["quality_source=customer", "quality_source"],
    ["vendor=", "vendor"],
    ["from=2026-11-20T00:00:00Z&from=2026-11-21T00:00:00Z", "from"],
  ])("answers 400 naming the field for %s", async (query, field) => {
    const response = await api.app().inject(`/v1/matrix?${query}`);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      error: { code: "invalid_parameter", field, message: expect.any(String) },
    });
  });
});
