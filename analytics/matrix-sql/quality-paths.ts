// The matrix's quality figures: scores from the quality rollup, from the raw
// scores that carry their request, and from scores that must be joined to it.
import type { TenantScope } from "../access.ts";
import { filterClause, groupSql, type MatrixParameters, readsRawOnly } from "../matrix-query.ts";
import { type BoundQuery, bound, EMPTY, joinSql, sql } from "./bound.ts";
import { TAG_EXPRESSION } from "./usage-states.ts";
import { eventWindowSql, rangesSql, splitWindow } from "./window.ts";

/**
 * A score may be stamped by another process than the gateway (an eval
 * runner), so a score given a little before its request's timestamp still
 * counts: scores are read from this long before the window's start.
 */
export const SCORE_CLOCK_SKEW_ALLOWANCE = "INTERVAL 1 HOUR";

/** The kind of a score, as the quality rollup keys it: a scale 0 and a category '' where they do not apply. */
const SCORE_KIND_COLUMNS = `value.type AS type,
             if(type = 'number', assumeNotNull(value.minimum), 0) AS minimum,
             if(type = 'number', assumeNotNull(value.maximum), 0) AS maximum,
             if(type = 'category', assumeNotNull(value.category), '') AS category`;

/**
 * One raw score as a row of the sums quality_hourly keeps (n, n_true, x_sum,
 * x_sum_squares), so raw rows and rollup rows add up under one GROUP BY.
 */
const SCORE_SUMS = `toUInt64(1) AS n,
             toUInt64(ifNull(value.boolean, false)) AS n_true,
             if(type = 'number', assumeNotNull(value.number), 0) AS x_sum,
             if(type = 'number', pow(assumeNotNull(value.number), 2), 0) AS x_sum_squares`;

/** Scores stamped from the skew allowance before the window's start: the sorting key bounds the read. */
function scoredSinceSql(parameters: MatrixParameters): BoundQuery {
  return bound(
    `occurred_at >= {window_from:DateTime64(3, 'UTC')} - ${SCORE_CLOCK_SKEW_ALLOWANCE}`,
    { window_from: parameters.from },
  );
}

/** `AND …` for the score-side filters every quality source shares: tenants and sources. */
function scoreFilterSql(parameters: MatrixParameters, scope: TenantScope): BoundQuery {
  const clauses: BoundQuery[] = [];
  if (scope.tenants !== "all") {
    clauses.push(
      bound(" AND tenant_id IN {scope_tenants:Array(String)}", { scope_tenants: scope.tenants }),
    );
  }
  if (parameters.filters.tenant) {
    clauses.push(
      bound(" AND tenant_id IN {filter_tenant:Array(String)}", {
        filter_tenant: parameters.filters.tenant,
      }),
    );
  }
  clauses.push(qualitySourceSql(parameters));
  return joinSql(clauses, "");
}

function qualitySourceSql(parameters: MatrixParameters): BoundQuery {
  return parameters.qualitySources
    ? bound(" AND source IN {quality_sources:Array(String)}", {
        quality_sources: parameters.qualitySources,
      })
    : EMPTY;
}

/**
 * Whether the window may hold scores with no request on them (stored before
 * migration 0011 or upcast from v1), which only a join to the requests can
 * place: the quality matrix runs that join only when this finds one.
 */
export function legacyScoresQuery(parameters: MatrixParameters, scope: TenantScope): BoundQuery {
  return sql`
    SELECT 1 AS found FROM switchboard.quality_scored
    WHERE request_occurred_at IS NULL
      AND ${scoredSinceSql(parameters)}${scoreFilterSql(parameters, scope)}
    LIMIT 1`;
}

/**
 * Quality per group, metric and kind of score, windowed and grouped by the
 * scored request's time and dimensions. Numbers are grouped by their scale
 * too, so a 4 of 5 and a 4 of 10 never share a mean; categories by
 * category. Three sources, summed:
 *   - whole hours from the quality_hourly rollup (not by key or tag, which
 *     it does not hold);
 *   - the partial hours at the window's edges, or the whole window by key or
 *     tag, from the raw scores, which carry their request (quality_scored v2);
 *   - with `withLegacy`, scores that carry no request, joined to the
 *     requests they name (vendor, model, task, team, key, tags and time come
 *     from the request), as every score was read before the rollup.
 * Every source gives rows of sums, added up under one GROUP BY; the mean and
 * sample variance come from them: Σx/n and (Σx² − (Σx)²/n)/(n − 1).
 */
export function qualityQuery(
  parameters: MatrixParameters,
  scope: TenantScope,
  withLegacy: boolean,
): BoundQuery {
  const explodeTags = parameters.groupBy.includes("tag");
  const scoreFilters = scoreFilterSql(parameters, scope);
  const dimensionFilters = filterClause(
    parameters.filters,
    scope,
    explodeTags ? "exploded-requests" : "requests",
  );
  const tagColumn = explodeTags ? ` ${TAG_EXPRESSION} AS tag,` : "";
  const scoredSince = scoredSinceSql(parameters);
  const sources: BoundQuery[] = [];

  let rawWindow = eventWindowSql(parameters.from, parameters.to, "request_occurred_at");
  if (!readsRawOnly(parameters)) {
    const tiers = splitWindow(parameters.from, parameters.to, false);
    rawWindow = rangesSql("request_occurred_at", "DateTime64(3, 'UTC')", "raw", tiers.raw);
    // Rows of parts not yet merged add up like merged ones: no FINAL needed.
    sources.push(sql`
      SELECT hour, tenant_id, vendor, model, task, team, '' AS key_id, metric,
             value_type AS type, minimum, maximum, category, scores AS n, true_scores AS n_true,
             number_sum AS x_sum, number_sum_squares AS x_sum_squares
      FROM switchboard.quality_hourly
      WHERE ${rangesSql("hour", "DateTime('UTC')", "hours", tiers.hours)}${filterClause(parameters.filters, scope, "rollup")}${qualitySourceSql(parameters)}`);
  }
  sources.push(sql`
      SELECT toStartOfHour(assumeNotNull(request_occurred_at)) AS hour, tenant_id, vendor, model,
             task, team, key_id,${tagColumn} metric, ${SCORE_KIND_COLUMNS}, ${SCORE_SUMS}
      FROM switchboard.quality_scored FINAL
      WHERE request_occurred_at IS NOT NULL
        -- A score never precedes its request by more than the skew: the sorting key bounds the read.
        AND ${scoredSince}
        AND ${rawWindow}${scoreFilters}${dimensionFilters}`);
  if (withLegacy) {
    sources.push(sql`
      SELECT requested.hour AS hour, requested.tenant_id AS tenant_id, requested.vendor AS vendor,
             requested.model AS model, requested.task AS task, requested.team AS team,
             requested.key_id AS key_id,${explodeTags ? " requested.tag AS tag," : ""}
             scored.metric AS metric, scored.type AS type, scored.minimum AS minimum,
             scored.maximum AS maximum, scored.category AS category, scored.n AS n,
             scored.n_true AS n_true, scored.x_sum AS x_sum, scored.x_sum_squares AS x_sum_squares
      -- The scores are the right side, the one a hash join holds in memory:
      -- a window has fewer scores than requests.
      FROM (
        SELECT tenant_id, request_id, toStartOfHour(occurred_at) AS hour, vendor, model, task,
               team, key_id${explodeTags ? `, ${TAG_EXPRESSION} AS tag` : ""}
        FROM switchboard.request_completed FINAL
        WHERE ${eventWindowSql(parameters.from, parameters.to)}${dimensionFilters}
      ) AS requested
      INNER JOIN (
        SELECT tenant_id, request_id, metric, ${SCORE_KIND_COLUMNS}, ${SCORE_SUMS}
        FROM switchboard.quality_scored FINAL
        WHERE request_occurred_at IS NULL
          AND ${scoredSince}${scoreFilters}
      ) AS scored
      ON scored.tenant_id = requested.tenant_id AND scored.request_id = requested.request_id`);
  }
  const group = groupSql(parameters.groupBy);
  return sql`
    SELECT ${group.select},
      metric, type, minimum, maximum, category,
      sum(n) AS scores,
      sum(n_true) AS true_scores,
      if(type = 'number', sum(x_sum) / scores, NULL) AS mean,
      -- Rounding can take Σx² − (Σx)²/n a hair below zero when every score is equal.
      if(type = 'number' AND scores > 1,
         greatest(0, (sum(x_sum_squares) - pow(sum(x_sum), 2) / scores) / (scores - 1)),
         NULL) AS sample_variance
    FROM (${joinSql(sources, "\n      UNION ALL")}
    )
    GROUP BY ${group.keys}, metric, type, minimum, maximum, category
    ORDER BY ${group.keys}, metric, type, minimum, maximum, category`;
}
