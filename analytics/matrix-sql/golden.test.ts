// Golden SQL: each matrix query builder's SQL and parameters for a set of
// parameter shapes, kept in golden/*.sql beside this file. A change to the
// SQL any path sends shows here as a diff to review; run with `-u` to accept
// it. Whether the SQL is right is what the tests against chDB say
// (rollup-equivalence, matrix-*, quality-rollup); this says what changed.
import { describe, expect, it } from "vitest";
import type { TenantScope } from "../access.ts";
import { type MatrixParameters, matrixParameters } from "../matrix-query.ts";
import type { BoundQuery } from "./bound.ts";
import { legacyScoresQuery, qualityQuery } from "./quality-paths.ts";
import { matrixTotalsQuery, rawMatrixQuery } from "./raw-path.ts";
import { rollupMatrixQuery } from "./rollup-path.ts";

const ADMIN: TenantScope = { tokenId: "admin", tenants: "all" };
const ACME: TenantScope = { tokenId: "acme-reader", tenants: ["acme", "globex"] };

// Neither end on an hour, and whole days between: every tier has a range.
const UNALIGNED = { from: "2026-11-18T03:17:12.345Z", to: "2026-11-20T19:02:00.001Z" };

function parameters(query: Record<string, string>): MatrixParameters {
  return matrixParameters.parse({ ...UNALIGNED, ...query });
}

/** The `{name:Type}` parameters the SQL names. */
function namedParameters(text: string): string[] {
  return [...new Set([...text.matchAll(/\{(\w+):/g)].map((match) => match[1] as string))].sort();
}

/**
 * The SQL, then each parameter on its own line, sorted, dates as ISO-8601;
 * first checking that the SQL names exactly the parameters bound, no more
 * (ClickHouse would refuse the query) and no fewer (a value bound for
 * nothing is a filter that was meant and is missing).
 */
function golden(query: BoundQuery): string {
  expect(Object.keys(query.params).sort()).toEqual(namedParameters(query.sql));
  const params = Object.keys(query.params)
    .sort()
    .map((name) => {
      const value = query.params[name];
      return `-- ${name} = ${JSON.stringify(value instanceof Date ? value.toISOString() : value)}`;
    });
  return `${query.sql.trim()}\n\n${params.join("\n")}\n`;
}

const file = (name: string) => `./golden/${name}.sql`;

describe("the rollup path", () => {
  it.each([
    ["rollup-all-tenants-default", ADMIN, {}],
    [
      "rollup-by-tenant-vendor-model-latency-only",
      ACME,
      { group_by: "tenant,vendor", model: "m1", metrics: "requests,latency_ms_p95" },
    ],
    ["rollup-by-team-day-all-metrics", ACME, { group_by: "team,day", team: "ads", metrics: "all" }],
    ["rollup-by-hour-skips-days", ADMIN, { group_by: "vendor,hour", tenant: "acme" }],
  ] as const)("%s", async (name, scope, query) => {
    await expect(golden(rollupMatrixQuery(parameters(query), scope))).toMatchFileSnapshot(
      file(name),
    );
  });
});

describe("the raw path", () => {
  it.each([
    ["raw-exact-by-vendor-hour", ADMIN, { group_by: "vendor,hour", quantile_method: "exact" }],
    ["raw-by-tag-and-key", ACME, { group_by: "tag,key", tag: "prod,eu", vendor: "alpha" }],
    ["raw-by-key-filtered-by-tag", ACME, { group_by: "key", tag: "prod" }],
    [
      "raw-by-service-tier-filtered",
      ACME,
      { group_by: "service_tier,vendor", service_tier: "batch,flex" },
    ],
  ] as const)("%s", async (name, scope, query) => {
    await expect(golden(rawMatrixQuery(parameters(query), scope))).toMatchFileSnapshot(file(name));
  });

  it("totals by tag", async () => {
    const query = parameters({ group_by: "tag", tag: "prod", team: "ads" });
    await expect(golden(matrixTotalsQuery(query, ACME))).toMatchFileSnapshot(file("totals-by-tag"));
  });
});

describe("the quality paths", () => {
  it("legacy scores probe", async () => {
    const query = parameters({ tenant: "acme", quality_source: "human,eval" });
    await expect(golden(legacyScoresQuery(query, ACME))).toMatchFileSnapshot(file("legacy-scores"));
  });

  it.each([
    ["quality-rollup-by-vendor", ACME, { group_by: "vendor", quality_source: "human" }, false],
    ["quality-rollup-with-legacy", ADMIN, { group_by: "model,day", team: "ads" }, true],
    ["quality-raw-by-tag-with-legacy", ACME, { group_by: "tag", tag: "prod" }, true],
    ["quality-raw-by-key", ADMIN, { group_by: "key", tenant: "acme" }, false],
  ] as const)("%s", async (name, scope, query, withLegacy) => {
    await expect(golden(qualityQuery(parameters(query), scope, withLegacy))).toMatchFileSnapshot(
      file(name),
    );
  });
});
