import { describe, expect, it } from "vitest";
import { HAND_LEDGER_WINDOW } from "../test/fixtures/hand-ledger.ts";
import { useHandLedgerApi } from "../test/fixtures/hand-ledger-api.ts";

// Figures by hand from test/fixtures/hand-ledger.ts, tenant acme: alpha served
// code three times on the 20th (r1, r2, r3: $0.3, 2 successes); beta served
// code once ($0.000000000000000001, 1 success) and general once on the 21st
// ($1.5); gamma only failed an attempt on code.

const api = useHandLedgerApi();

async function brief(vendor: string, query = "") {
  const response = await api
    .app()
    .inject(`/v1/vendors/${vendor}/brief?${HAND_LEDGER_WINDOW}&tenant=acme${query}`);
  expect(response.statusCode, response.body).toBe(200);
  return response;
}

describe("GET /v1/vendors/{vendor}/brief", () => {
  it("gives alpha's spend, tasks beside the best alternative, service levels and savings", async () => {
    const answer = (await brief("alpha", "&slo_ttft_p95_ms=100")).json();
    expect(answer).toMatchObject({
      vendor: "alpha",
      spend_usd: "0.3",
      requests: 3,
      spend_over_time: [
        // 0.3 of the day's 0.300000000000000001, truncated at 18 places.
        {
          day: "2026-11-20T00:00:00Z",
          requests: 3,
          spend_usd: "0.3",
          share_of_spend: "0.999999999999999996",
        },
        { day: "2026-11-21T00:00:00Z", requests: 0, spend_usd: "0", share_of_spend: "0" },
      ],
      // beta does code for $0.000000000000000001 a success against alpha's $0.15.
      routable_share_of_spend: "1",
      locked_share_of_spend: "0",
      // 0.3 − 0.000000000000000001 × 2 successes.
      savings_at_stake_usd: "0.299999999999999998",
      failover_incidents: [],
    });
    expect(answer.tasks).toEqual([
      expect.objectContaining({
        task: "code",
        model: "m1",
        requests: 3,
        cost_usd: "0.3",
        cost_per_success_usd: "0.15",
        success_rate: 2 / 3,
        best_alternative: expect.objectContaining({
          vendor: "beta",
          model: "m2",
          cost_per_success_usd: "0.000000000000000001",
        }),
        routable: true,
        savings_at_stake_usd: "0.299999999999999998",
      }),
    ]);
    const vendorWide = { model: null, task: null };
    expect(answer.slo).toEqual([
      {
        objective: "availability",
        ...vendorWide,
        target: 0.99,
        target_source: "built-in",
        observed: 2 / 3,
        met: false,
      },
      // ttft 50 and 80 ms: any quantile of them is under 100.
      {
        objective: "ttft_ms_p95",
        ...vendorWide,
        target: 100,
        target_source: "query",
        observed: expect.any(Number),
        met: true,
      },
      // one failed request of three attempts, no failed-over attempt.
      {
        objective: "error_rate",
        ...vendorWide,
        target: 0.02,
        target_source: "built-in",
        observed: 1 / 3,
        met: false,
      },
    ]);
  });

  it("counts an alternative only when it meets the quality floor", async () => {
    // beta has no helpful scores on code, so nothing meets alpha's own 2 of 3.
    const answer = (await brief("alpha", "&quality_metric=helpful")).json();
    expect(answer.tasks[0]).toMatchObject({ best_alternative: null, routable: false });
    expect(answer).toMatchObject({
      routable_share_of_spend: "0",
      locked_share_of_spend: "1",
      savings_at_stake_usd: "0",
    });
    expect(answer.method.routable).toMatch(/helpful/);
  });

  it("lists the hours a vendor's attempts failed over", async () => {
    const answer = (await brief("gamma")).json();
    expect(answer.failover_incidents).toEqual([
      { hour: "2026-11-20T10:00:00Z", failed_attempts: 1, error_classes: ["server_error"] },
    ]);
    expect(answer.tasks).toEqual([]);
  });

  it("renders the same brief as Markdown, CSV and a printable page with a chart", async () => {
    const markdown = (await brief("alpha", "&format=md")).body;
    expect(markdown).toMatch(/^# alpha: vendor brief/);
    expect(markdown).toContain(
      "| code | m1 | 3 | 0.15 | 66.7% | beta/m2 | 0.000000000000000001 | 100.0% | yes | 0.299999999999999998 |",
    );

    const csv = await brief("alpha", "&format=csv");
    expect(csv.headers["content-type"]).toMatch(/^text\/csv/);
    expect(csv.body.trim().split("\n")).toEqual([
      "vendor,task,model,requests,cost_usd,cost_per_success_usd,success_rate,latency_ms_p95,best_alternative,alternative_cost_per_success_usd,alternative_success_rate,routable,savings_at_stake_usd",
      expect.stringMatching(
        /^alpha,code,m1,3,0\.3,0\.15,0\.6666666666666666,300,beta\/m2,0\.000000000000000001,1,true,0\.299999999999999998$/,
      ),
    ]);

    const html = await brief("alpha", "&format=html");
    expect(html.headers["content-type"]).toMatch(/^text\/html/);
    expect(html.body).toContain('<svg id="spend-chart"');
    expect(html.body.match(/<rect class="bar"/g)).toHaveLength(2);
    expect(html.body).toContain("$0.299999999999999998</strong>savings at stake");
  });

  it.each([
    ["format=pdf", "format"],
    ["slo_availability=1.5", "slo_availability"],
    ["quality_floor=high", "quality_floor"],
  ])("answers 400 naming the field for %s", async (query, field) => {
    const response = await api.app().inject(`/v1/vendors/alpha/brief?${query}`);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: "invalid_parameter", field } });
  });
});
