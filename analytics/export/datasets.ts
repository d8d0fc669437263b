// What each export dataset is: the table it reads and the columns it gives,
// as fixed SQL (no caller text ever reaches it). Every dataset carries
// `ingested_at`, the position the export cursor follows.
//
// Key and team are stored as '' when the event had none and exported as
// null, as the event carried them. Candidate scores are decimals in an array
// beside `candidates`, index for index (0008 says why they are apart).
import { FOCUS_FROM, FOCUS_SELECT } from "./focus.ts";
import { type FocusPrice, focusPricesParameter } from "./focus-prices.ts";

/** What a dataset's SQL may be bound to beyond tenant and time. */
export interface ExportContext {
  /** The unit prices the FOCUS rows are split by (focus-prices.ts); none leaves every priced request unsplit. */
  focusPrices?: readonly FocusPrice[];
}

export interface ExportDataset {
  table: string;
  /**
   * The FROM of a page's rows when more than `table` (joins, ARRAY JOIN);
   * page planning counts `table`'s rows.
   */
  rowsFrom?: string;
  /** The query parameters `rowsFrom` and `columns` name. */
  parameters?: (context: ExportContext) => Record<string, unknown>;
  /** The SELECT list; `ingested_at` and `event_id` are in every table for ordering. */
  columns: string;
  /** A filter every row of the dataset meets, beyond tenant and time. */
  where?: string;
  /** At most this many rows a page whatever the export's page size: memory holds two pages. */
  maxPageRows?: number;
}

export const EXPORT_DATASETS = {
  requests: {
    table: "switchboard.request_completed",
    columns: `toString(event_id) AS event_id, schema_version, occurred_at, ingested_at, tenant_id,
      request_id, nullIf(key_id, '') AS key_id, nullIf(team, '') AS team, tags, task,
      request_model, vendor, model, response_model, attempts, streamed, status, http_status,
      error_class, input_tokens, cached_input_tokens, cache_write_input_tokens, output_tokens,
      reasoning_tokens, usage_source, cost_usd, list_cost_usd, contract_id, price_known,
      price_card_version, service_tier, vendor_service_tier, latency_ms, ttft_ms`,
  },
  attempts: {
    table: "switchboard.attempt_failed",
    columns: `toString(event_id) AS event_id, schema_version, occurred_at, ingested_at, tenant_id,
      request_id, nullIf(key_id, '') AS key_id, nullIf(team, '') AS team, tags, task,
      request_model, vendor, model, attempt, streamed, error_class, error_code,
      next_action, backoff_ms, http_status, latency_ms`,
  },
  decisions: {
    table: "switchboard.route_decided",
    columns: `toString(event_id) AS event_id, schema_version, occurred_at, ingested_at, tenant_id,
      request_id, task, task_source, request_model, policy, score_basis, candidates,
      candidate_scores, chosen_vendor, chosen_model, reason`,
  },
  quality: {
    table: "switchboard.quality_scored",
    // The value tuple flattened, so every warehouse reads it without struct
    // support; then the scored request (quality_scored v2; null and '' for a
    // score stored without one), so scores join nothing to be grouped.
    columns: `toString(event_id) AS event_id, schema_version, occurred_at, ingested_at, tenant_id,
      request_id, metric, value.type AS value_type, value.boolean AS value_boolean,
      value.number AS value_number, value.minimum AS value_minimum, value.maximum AS value_maximum,
      value.category AS value_category, source, gold_set_name, gold_set_version, comment,
      request_occurred_at, task, vendor, model, key_id, team, tags`,
  },
  focus: {
    table: "switchboard.request_completed",
    rowsFrom: FOCUS_FROM,
    columns: FOCUS_SELECT,
    parameters: (context) => ({ focus_prices: focusPricesParameter(context.focusPrices ?? []) }),
    // A request no vendor was tried for has no provider and costs nothing: not a charge.
    where: "vendor != ''",
    // A FOCUS row is about 780 bytes of Arrow (descriptions, SKU ids, tags
    // JSON), 2.7 times a request's. Pages of 200,000 were at most a fifth
    // faster than of 100,000 and took some 500 MB more at their peak. Pages
    // count requests, and a request is up to six rows (a class each), about
    // 4.5 with cache and reasoning tokens: 20,000 requests make some 90,000
    // rows, near a page of the one-row-a-request export. Sized by that
    // arithmetic; not yet measured on a quiet machine like the figures above.
    maxPageRows: 20_000,
  },
} as const satisfies Record<string, ExportDataset>;

export type ExportDatasetName = keyof typeof EXPORT_DATASETS;
export const EXPORT_DATASET_NAMES = Object.keys(EXPORT_DATASETS) as ExportDatasetName[];
