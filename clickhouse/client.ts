import { type ClickHouseClient, createClient } from "@clickhouse/client";
import { createChdbConnection } from "chdb/connection";

export type { ClickHouseClient } from "@clickhouse/client";

type ClientOptions = NonNullable<Parameters<typeof createClient>[0]>;

export const DEFAULT_CHDB_PATH = "./data/clickhouse";

// Settings every statement relies on, pinned at client level so a server and
// the embedded engine answer alike (per-query settings leak on chDB, trap 1).
const CONSTANT_SETTINGS = {
  output_format_json_quote_64bit_integers: 1,
  output_format_json_quote_decimals: 1,
  date_time_input_format: "best_effort",
  input_format_skip_unknown_fields: 0,
  async_insert: 0,
  wait_end_of_query: 1,
} as const;

/**
 * The one way to reach ClickHouse. `http(s)://…` is a server; unset or
 * `chdb:<dir>` is the embedded chDB engine with its data in <dir>.
 * Only one process may open a chDB directory at a time.
 */
export function createClickHouse(url = `chdb:${DEFAULT_CHDB_PATH}`): ClickHouseClient {
  if (/^https?:\/\//.test(url)) {
    return createClient({ url, clickhouse_settings: CONSTANT_SETTINGS, request_timeout: 60_000 });
  }
  const path = url.startsWith("chdb:") ? url.slice("chdb:".length) : url;
  if (!path) throw new Error(`CLICKHOUSE_URL "${url}" names no chDB directory`);
  return createClient({
    // chdb bundles its own copy of @clickhouse/client-common's types; the
    // runtime contract is the same, so the cast only bridges the two copies.
    connection: createChdbConnection({ path }) as unknown as ClientOptions["connection"],
    clickhouse_settings: CONSTANT_SETTINGS,
  });
}

export function isEmbedded(url: string): boolean {
  return !/^https?:\/\//.test(url);
}
