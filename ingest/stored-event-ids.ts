import type { ClickHouseClient } from "../clickhouse/client.ts";

/** What the lookup needs of an event: its id and the sorting-key columns before it. */
export interface EventKey {
  eventId: string;
  tenantId: string;
  /** UTC, milliseconds, ending in Z. */
  occurredAt: string;
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/**
 * Ids per query: the ids go into the SQL text as literals (39 bytes each),
 * and the whole query must stay under ClickHouse's 256 KiB max_query_size.
 */
const IDS_PER_QUERY = 5_000;
/** Past this many tenants in one query, one range for all of them instead of one per tenant. */
const MAX_TENANT_RANGES = 50;

/**
 * The ids of `events` already stored in `table`. Every event table is sorted
 * by (tenant_id, occurred_at, event_id), so each query names every tenant's
 * time range in the batch and the engine reads only those granules.
 *
 * Two steps. First, per tenant, the latest occurred_at stored within the
 * batch's range: an event later than that cannot be stored yet (an event's
 * time never changes), so only the events at or before it are candidates.
 * In a stream that keeps up, that is the few events overlapping the last
 * batch; in a redelivery, all of them. Then the candidates' ids are tested.
 * Ids go in as literals (checked to be UUIDs first): sent as a query
 * parameter, 5,000 of them would make a URL no server takes.
 */
export async function findStoredEventIds(
  client: ClickHouseClient,
  table: string,
  events: EventKey[],
): Promise<Set<string>> {
  const stored = new Set<string>();
  if (events.length === 0) return stored;
  const latest = await latestStoredPerTenant(client, table, events);
  if (latest.size === 0) return stored;
  const candidates = events.filter((event) => {
    const latestStored = latest.get(event.tenantId);
    return latestStored !== undefined && event.occurredAt <= latestStored;
  });
  for (let start = 0; start < candidates.length; start += IDS_PER_QUERY) {
    const chunk = candidates.slice(start, start + IDS_PER_QUERY);
    const { condition, parameters } = keyRangeCondition(chunk);
    const ids = chunk.map((event) => {
      if (!UUID_PATTERN.test(event.eventId)) throw new Error(`not a UUID: ${event.eventId}`);
      return `'${event.eventId}'`;
    });
    const result = await client.query({
      query: `SELECT toString(event_id) AS event_id FROM ${table}
              WHERE (${condition}) AND event_id IN (${ids.join(",")})`,
      query_params: parameters,
      format: "JSONCompactEachRow",
    });
    for (const [eventId] of await result.json<[string]>()) stored.add(eventId);
  }
  return stored;
}

/** Per tenant of the batch, the latest occurred_at stored within the batch's time range, as ISO-8601. */
async function latestStoredPerTenant(
  client: ClickHouseClient,
  table: string,
  events: EventKey[],
): Promise<Map<string, string>> {
  const { condition, parameters } = keyRangeCondition(events);
  const result = await client.query({
    query: `SELECT tenant_id, toString(max(occurred_at)) AS latest FROM ${table}
            WHERE ${condition} GROUP BY tenant_id`,
    query_params: parameters,
    format: "JSONCompactEachRow",
  });
  const latest = new Map<string, string>();
  for (const [tenant, time] of await result.json<[string, string]>()) {
    // "2026-11-20 10:00:00.123" → "2026-11-20T10:00:00.123Z", comparable with the events' times.
    latest.set(tenant, `${time.replace(" ", "T")}Z`);
  }
  return latest;
}

/** `(tenant_id = t AND occurred_at BETWEEN first AND last) OR …`, one range per tenant. */
function keyRangeCondition(events: EventKey[]): {
  condition: string;
  parameters: Record<string, unknown>;
} {
  const ranges = new Map<string, { first: string; last: string }>();
  for (const event of events) {
    const range = ranges.get(event.tenantId);
    // ISO-8601 UTC strings of one length compare like the times they name.
    if (range === undefined) {
      ranges.set(event.tenantId, { first: event.occurredAt, last: event.occurredAt });
    } else if (event.occurredAt < range.first) range.first = event.occurredAt;
    else if (event.occurredAt > range.last) range.last = event.occurredAt;
  }
  if (ranges.size > MAX_TENANT_RANGES) {
    let first = events[0]?.occurredAt ?? "";
    let last = first;
    for (const range of ranges.values()) {
      if (range.first < first) first = range.first;
      if (range.last > last) last = range.last;
    }
    return {
      condition:
        "tenant_id IN {tenants:Array(String)} AND occurred_at BETWEEN {first:DateTime64(3, 'UTC')} AND {last:DateTime64(3, 'UTC')}",
      parameters: {
        tenants: [...ranges.keys()],
        first: asDateTime64(first),
        last: asDateTime64(last),
      },
    };
  }
  const conditions: string[] = [];
  const parameters: Record<string, unknown> = {};
  let index = 0;
  for (const [tenant, range] of ranges) {
    conditions.push(
      `(tenant_id = {tenant_${index}:String} AND occurred_at BETWEEN {first_${index}:DateTime64(3, 'UTC')} AND {last_${index}:DateTime64(3, 'UTC')})`,
    );
    parameters[`tenant_${index}`] = tenant;
    parameters[`first_${index}`] = asDateTime64(range.first);
    parameters[`last_${index}`] = asDateTime64(range.last);
    index += 1;
  }
  return { condition: conditions.join(" OR "), parameters };
}

/**
 * "2026-11-20T10:00:00.123Z" → "2026-11-20 10:00:00.123", ClickHouse's own
 * text form. Not a JS Date: the client sends a Date as Unix seconds with a
 * fraction, and chDB drops the milliseconds of such a parameter, which would
 * miss events in the range's last second.
 */
function asDateTime64(isoTime: string): string {
  return isoTime.replace("T", " ").replace("Z", "");
}
