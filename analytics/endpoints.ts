// Every endpoint of the analytics API, described once: the routes validate
// with these zod schemas, and the OpenAPI document and the docs page are
// generated from them, so the three cannot drift apart.
import type { z } from "zod";
import { commitmentParameterFields } from "./commitments.ts";
import { exportParameterFields, exportPathFields } from "./export/export-parameters.ts";
import { matrixParameterFields } from "./matrix-query.ts";
import { briefParameterFields, briefPathFields } from "./vendor-brief.ts";
import { whatIfRequest } from "./whatif-request.ts";

export interface EndpointDescription {
  method: "GET" | "POST";
  /** The route as fastify spells it (`/v1/export/:dataset`). */
  path: string;
  summary: string;
  description: string;
  /** false for the few endpoints anyone may read (the docs themselves, health). */
  authenticated: boolean;
  pathParameters?: Record<string, z.ZodType>;
  queryParameters?: Record<string, z.ZodType>;
  body?: z.ZodType;
  /** Content types of a successful answer. */
  produces: string[];
  /** Paste-able calls against the demo (`npm start`). */
  examples: string[];
}

export const ANALYTICS_BASE_URL = "http://127.0.0.1:8081";
/**
 * The token's place in every example: a shell variable, never a token. The
 * examples are served without authentication (/openapi.json, /docs), so a
 * real one there is published to whoever reaches the port (openapi.ts checks).
 */
export const TOKEN_PLACEHOLDER = "$SWITCHBOARD_ANALYTICS_TOKEN";
const DEMO_AUTHORIZATION = `-H "authorization: Bearer ${TOKEN_PLACEHOLDER}"`;

function curl(pathAndQuery: string, extra = ""): string {
  return `curl -s ${DEMO_AUTHORIZATION}${extra} '${ANALYTICS_BASE_URL}${pathAndQuery}'`;
}

export const ANALYTICS_ENDPOINTS: EndpointDescription[] = [
  {
    method: "GET",
    path: "/v1/matrix",
    summary: "Cost, success, latency and quality matrix",
    description:
      "One row per group over [from, to). Money and shares are exact decimal strings (shares and per-request figures truncated at 18 places); rates are numbers. cost_usd is the contracted spend (what is owed; the list price when no contract applies), list_spend_usd the same requests at the price card's list prices, savings_vs_list_usd their difference, unpriced_requests the requests no price was known for (both costs 0). Counts, tokens and money come from the hourly rollups (by tenant, vendor, model, task and team) plus the raw events for partial hours, and are exact; quantiles come from t-digests unless quantile_method=exact, and the answer's `quantiles` says which. Grouped or filtered by key or tag, the matrix is computed from the raw events (exact quantiles). By tag (arrayJoin of the request's tags) a request with two tags counts under each: rows sum to more than the totals, and shares, taken of the distinct totals, sum to more than 1; untagged requests are under tag \"\". A failed attempt counts under its caller's team, key and tags (those stored before attempt_failed v3 under \"\"). Quality is per metric: booleans as a mean with a Wilson 95% interval, numbers (per scale) as a mean with a Student-t 95% interval, categories as shares with Wilson intervals; scores join their request, so they count in the request's group and hour.",
    authenticated: true,
    queryParameters: matrixParameterFields,
    produces: ["application/json"],
    examples: [
      curl("/v1/matrix?group_by=vendor,task"),
      curl("/v1/matrix?group_by=day,vendor&task=extraction&metrics=all&from=-7d"),
      curl("/v1/matrix?group_by=model&metrics=requests,latency_ms_p99&quantile_method=exact"),
      curl(
        "/v1/matrix?group_by=team,vendor&metrics=requests,cost_usd,list_spend_usd,savings_vs_list_usd,unpriced_requests",
      ),
      curl("/v1/matrix?group_by=tag&tag=prod,search&metrics=requests,cost_usd,share_of_spend"),
      curl("/v1/matrix?group_by=day&key=acme-search&team=search&metrics=requests,cost_usd"),
    ],
  },
  {
    method: "POST",
    path: "/v1/whatif",
    summary: "Re-price the observed traffic with some of it moved",
    description:
      "For a period, moves a share of one task's traffic from one vendor-model to another (or re-prices it in place under a new contract) and answers the baseline spend, the projected spend and the delta, exact to 18 decimal places. Token counts on the target are estimated with the observed per-task ratio of mean tokens per request between the two candidates (or assumed equal when the target has no traffic on the task — the answer says which); cost is the given price on those tokens, or else the target's observed cost per request on the task. Quality deltas come with 95% intervals (Newcombe's hybrid Wilson for booleans, Welch's t for numbers) where both sides have scores, and say so where not; latency as a mean difference with a Welch interval, beside t-digest p50 and p95.",
    authenticated: true,
    body: whatIfRequest,
    produces: ["application/json"],
    examples: [
      `curl -s ${DEMO_AUTHORIZATION} -H 'content-type: application/json' ${ANALYTICS_BASE_URL}/v1/whatif -d '{"moves": [{"task": "general", "from": {"vendor": "sim-alpha", "model": "sim-small"}, "to": {"vendor": "sim-beta", "model": "sim-small"}, "share": "0.5"}]}'`,
      `curl -s ${DEMO_AUTHORIZATION} -H 'content-type: application/json' ${ANALYTICS_BASE_URL}/v1/whatif -d '{"from": "-7d", "moves": [{"task": "extraction", "from": {"vendor": "sim-alpha", "model": "sim-small"}, "to": {"vendor": "sim-alpha", "model": "sim-small"}, "price": {"input": "0.10", "output": "0.40"}}]}'`,
    ],
  },
  {
    method: "GET",
    path: "/v1/vendors/:vendor/brief",
    summary: "A renewal brief on one vendor",
    description:
      "Spend and share of spend per day; the per-task matrix beside the cheapest alternative per successful request on the same task (meeting a quality floor when quality_metric is given); the routable share of spend (tasks where an alternative does it for less) against the locked share; the savings at stake; service levels against the targets in config (analytics.slo: per vendor, and per model and/or task, each objective falling back to the vendor's target, the config default, then 0.99 / 2000 ms / 0.02; the slo_* parameters override the vendor-wide targets for one brief; target_source says where each came from); and the hours with failed-over attempts. JSON, Markdown, CSV (the per-task table) or a printable HTML page with a chart.",
    authenticated: true,
    pathParameters: briefPathFields,
    queryParameters: briefParameterFields,
    produces: ["application/json", "text/markdown", "text/csv", "text/html"],
    examples: [
      curl("/v1/vendors/sim-alpha/brief"),
      curl("/v1/vendors/sim-alpha/brief?format=html&from=-7d", " -o brief.html"),
      curl("/v1/vendors/sim-alpha/brief?format=md&quality_metric=helpful&slo_ttft_p95_ms=800"),
    ],
  },
  {
    method: "GET",
    path: "/v1/commitments",
    summary: "Committed spend against the ledger, with a run-rate forecast",
    description:
      "One entry per contract with a commitment in config (gateway.contracts[].commitment), of the asked vendors. committed_usd is the amount; consumed_usd the contracted cost_usd of the vendor's requests in the term before as_of (the commitment's models only, when it lists them), summed exactly as Decimal(38, 18); remaining_usd what is left to spend (0 once met); days_left the whole UTC days from as_of to the term's end, a part day counting as one; met_on the UTC date the consumed spend reached the commitment (null while it has not). forecasts carries the run rate of the trailing 7 and 28 days (cut at the term's start): the window's spend and daily rate, the spend projected at that rate to the term's end, the projected shortfall or overage (the other is \"0\"), and projected_met_on, the UTC date the commitment is met at that rate (null when it is not within the term, or already met); null before the term starts. Money is exact decimal strings in USD; divisions truncate at 18 decimal places, the met date rounds later, never earlier. Counts only the token's tenants (and `tenant`), so a tenant-scoped token sees its own share of a vendor-wide commitment.",
    authenticated: true,
    queryParameters: commitmentParameterFields,
    produces: ["application/json"],
    examples: [
      curl("/v1/commitments"),
      curl("/v1/commitments?vendor=sim-alpha&as_of=2026-11-30T00:00:00Z"),
    ],
  },
  {
    method: "GET",
    path: "/v1/export/:dataset",
    summary: "Stream a dataset to a warehouse, incrementally",
    description:
      "Rows in ingest order, streamed page by page (bounded memory). The answer's x-switchboard-next-cursor header is the cursor for the next pull, which returns exactly the rows ingested since: every row once, including events that arrive late relative to occurred_at. Rows of the last few seconds wait for the next pull, so an insert still in flight is never skipped. x-switchboard-export-complete says whether more rows were ready than this answer carries (limit, or one Parquet page). A response cut short (connection lost) must be pulled again with the same cursor. requests carries key_id, team (null when none), tags, list_cost_usd beside cost_usd (contracted), contract_id, price_known and the usage detail; attempts the stable error_code, next_action and backoff_ms; decisions task_source, score_basis and candidate_scores (decimals, index for index with candidates). focus is FinOps FOCUS 1.2, one cost row per request: ListCost at list prices, ContractedCost = EffectiveCost = BilledCost at contracted prices (no commitments to amortize); Tags holds the key's tags as valueless keys (\"prod\": true) and Switchboard's task, route, team and key under the provider prefix switchboard/.",
    authenticated: true,
    pathParameters: exportPathFields,
    queryParameters: exportParameterFields,
    produces: [
      "application/vnd.apache.arrow.stream",
      "application/vnd.apache.parquet",
      "application/x-ndjson",
      "text/csv",
    ],
    examples: [
      curl("/v1/export/requests?format=ndjson", " -D headers.txt"),
      curl("/v1/export/focus?format=csv&from=-7d"),
      curl(
        "/v1/export/requests?format=arrow&cursor=CURSOR_FROM_THE_LAST_PULL",
        " -o requests.arrows",
      ),
    ],
  },
  {
    method: "GET",
    path: "/openapi.json",
    summary: "This API as an OpenAPI 3.1 document",
    description: "Generated from the same zod schemas the endpoints validate with.",
    authenticated: false,
    produces: ["application/json"],
    examples: [`curl -s '${ANALYTICS_BASE_URL}/openapi.json'`],
  },
  {
    method: "GET",
    path: "/docs",
    summary: "This API as a page to read",
    description: "Endpoints, parameters and examples, generated from the same source.",
    authenticated: false,
    produces: ["text/html"],
    examples: [`curl -s '${ANALYTICS_BASE_URL}/docs'`],
  },
  {
    method: "GET",
    path: "/healthz",
    summary: "Liveness",
    description: 'Answers {"status":"ok"} while the process serves.',
    authenticated: false,
    produces: ["application/json"],
    examples: [`curl -s '${ANALYTICS_BASE_URL}/healthz'`],
  },
];
