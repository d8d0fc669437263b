import { describe, expect, it } from "vitest";
import { useHandLedgerApi } from "../test/fixtures/hand-ledger-api.ts";

const api = useHandLedgerApi();
const matrix = api.matrix;

const MONEY =
  "metrics=requests,failed_attempts,cost_usd,list_spend_usd,savings_vs_list_usd,unpriced_requests";

describe("GET /v1/matrix by team", () => {
  it("groups acme by team from the rollups, with list and contracted spend and the unpriced", async () => {
    const answer = await matrix(
      `tenant=acme&group_by=team&${MONEY},share_of_requests,share_of_spend`,
    );
    expect(answer.quantiles.method).toBe("t-digest");
    expect(answer.rows).toEqual([
      {
        // r4 and r5.
        team: "",
        requests: 2,
        failed_attempts: 0,
        cost_usd: "1.500000000000000001",
        list_spend_usd: "1.500000000000000001",
        savings_vs_list_usd: "0",
        unpriced_requests: 0,
        share_of_requests: "0.4",
        // 1.500000000000000001 / 1.800000000000000001, truncated.
        share_of_spend: "0.833333333333333333",
      },
      {
        // r1, r2 under contract (0.1 + 0.2 against 0.125 + 0.25 at list), r3
        // unpriced, and r2's failed attempt on gamma, which carries r2's team.
        team: "search",
        requests: 3,
        failed_attempts: 1,
        cost_usd: "0.3",
        list_spend_usd: "0.375",
        savings_vs_list_usd: "0.075",
        unpriced_requests: 1,
        share_of_requests: "0.6",
        share_of_spend: "0.166666666666666666",
      },
    ]);
  });

  it("groups every tenant by team from the all-tenants rollups", async () => {
    const answer = await matrix(`group_by=team&${MONEY}`);
    expect(answer.rows).toEqual([
      {
        team: "",
        requests: 2,
        failed_attempts: 0,
        cost_usd: "1.500000000000000001",
        list_spend_usd: "1.500000000000000001",
        savings_vs_list_usd: "0",
        unpriced_requests: 0,
      },
      {
        // acme's 0.3 and globex's g1 at 5 (list 5).
        team: "search",
        requests: 4,
        failed_attempts: 1,
        cost_usd: "5.3",
        list_spend_usd: "5.375",
        savings_vs_list_usd: "0.075",
        unpriced_requests: 1,
      },
    ]);
  });

  it("filters by team, failed attempts included", async () => {
    const answer = await matrix(`team=search&group_by=tenant,vendor&${MONEY}`);
    expect(answer.rows).toEqual([
      {
        tenant: "acme",
        vendor: "alpha",
        requests: 3,
        failed_attempts: 0,
        cost_usd: "0.3",
        list_spend_usd: "0.375",
        savings_vs_list_usd: "0.075",
        unpriced_requests: 1,
      },
      {
        // r2's failed attempt.
        tenant: "acme",
        vendor: "gamma",
        requests: 0,
        failed_attempts: 1,
        cost_usd: "0",
        list_spend_usd: "0",
        savings_vs_list_usd: "0",
        unpriced_requests: 0,
      },
      {
        tenant: "globex",
        vendor: "alpha",
        requests: 1,
        failed_attempts: 0,
        cost_usd: "5",
        list_spend_usd: "5",
        savings_vs_list_usd: "0",
        unpriced_requests: 0,
      },
    ]);
  });

  it("gives the same team figures from the raw events", async () => {
    const fromRollups = await matrix(`group_by=team,day&${MONEY}`);
    const fromRaw = await matrix(`group_by=team,day&${MONEY}&quantile_method=exact`);
    expect(fromRaw.rows).toEqual(fromRollups.rows);
    expect(fromRaw.rows).toHaveLength(3); // '' on both days, search on the 20th
  });
});

describe("GET /v1/matrix by tag", () => {
  it("counts a request under each of its tags; shares are of the distinct totals and sum past 1", async () => {
    const answer = await matrix(
      "tenant=acme&group_by=tag&metrics=requests,failed_attempts,cost_usd,share_of_requests,share_of_spend",
    );
    expect(answer.quantiles).toEqual({
      method: "exact",
      approximate: false,
      note: expect.stringContaining("key, tag or service tier"),
    });
    expect(answer.rows).toEqual([
      {
        // r4 has no tag.
        tag: "",
        requests: 1,
        failed_attempts: 0,
        cost_usd: "0.000000000000000001",
        share_of_requests: "0.2",
        share_of_spend: "0",
      },
      {
        tag: "batch",
        requests: 1,
        failed_attempts: 0,
        cost_usd: "1.5",
        share_of_requests: "0.2",
        share_of_spend: "0.833333333333333332",
      },
      {
        // r1, r2, r3, and r2's failed attempt, tagged as r2.
        tag: "prod",
        requests: 3,
        failed_attempts: 1,
        cost_usd: "0.3",
        share_of_requests: "0.6",
        share_of_spend: "0.166666666666666666",
      },
      {
        // r1 is also under prod: 6 request rows for 5 requests.
        tag: "search",
        requests: 1,
        failed_attempts: 0,
        cost_usd: "0.1",
        share_of_requests: "0.2",
        // 0.1 / 1.800000000000000001, truncated.
        share_of_spend: "0.055555555555555555",
      },
    ]);
  });

  it("filters by any of several tags, counting a request once", async () => {
    const answer = await matrix(
      "tenant=acme&tag=prod,search&group_by=vendor&metrics=requests,failed_attempts,cost_usd",
    );
    expect(answer.rows).toEqual([
      { vendor: "alpha", requests: 3, failed_attempts: 0, cost_usd: "0.3" },
      { vendor: "gamma", requests: 0, failed_attempts: 1, cost_usd: "0" },
    ]);
  });

  it("grouped by tag and filtered by tag, gives only the tags asked for", async () => {
    const answer = await matrix("tenant=acme&tag=search&group_by=tag&metrics=requests,cost_usd");
    expect(answer.rows).toEqual([{ tag: "search", requests: 1, cost_usd: "0.1" }]);
  });

  it("scores quality under each tag of the request scored", async () => {
    const answer = await matrix("tenant=acme&group_by=tag&metrics=quality");
    const helpful = (tag: string) =>
      answer.rows
        .find((row: { tag: string }) => row.tag === tag)
        ?.quality.find((summary: { metric: string }) => summary.metric === "helpful");
    // helpful: r1 true, r2 false, r3 true.
    expect(helpful("prod")).toMatchObject({ count: 3, mean: 2 / 3 });
    expect(helpful("search")).toMatchObject({ count: 1, mean: 1 });
    expect(helpful("batch")).toBeUndefined();
  });
});

describe("GET /v1/matrix by key", () => {
  it("groups by API key from the raw events", async () => {
    const answer = await matrix(
      "tenant=acme&group_by=key&metrics=requests,failed_attempts,cost_usd,list_spend_usd",
    );
    expect(answer.quantiles.method).toBe("exact");
    expect(answer.rows).toEqual([
      {
        key: "acme-batch",
        requests: 2,
        failed_attempts: 0,
        cost_usd: "1.500000000000000001",
        list_spend_usd: "1.500000000000000001",
      },
      {
        key: "acme-search",
        requests: 3,
        failed_attempts: 1,
        cost_usd: "0.3",
        list_spend_usd: "0.375",
      },
    ]);
  });

  it("filters by key", async () => {
    const answer = await matrix(
      "key=acme-batch,globex-main&group_by=tenant,team&metrics=requests,cost_usd",
    );
    expect(answer.rows).toEqual([
      { tenant: "acme", team: "", requests: 2, cost_usd: "1.500000000000000001" },
      { tenant: "globex", team: "search", requests: 1, cost_usd: "5" },
    ]);
  });
});
