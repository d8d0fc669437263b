// Which tenant a request id belongs to, so POST /v1/feedback scores only the
// caller's own requests. Two places, nearest first:
//   1. memory: the ids of the last `capacity` requests this gateway completed
//      (request_completed events as they are published), oldest forgotten first;
//   2. ClickHouse, when the gateway has it (`switchboard all`, or a gateway with
//      clickhouse_url naming a server): switchboard.request_completed, looked up
//      by tenant and by the time inside the id (ids are `req_` + a UUIDv7, whose
//      first 48 bits are the request's start in epoch ms), so the query reads one
//      tenant's few granules, not the table.
// Limits, said in the README: a request served by another gateway, or before a
// restart, is found only once ingest has stored it (ClickHouse), and not at all
// by a gateway without ClickHouse; a request still streaming has not completed.
import type { EventSink } from "../eventlog/ports.ts";

/** The one ClickHouse call the lookup needs, so the gateway does not import clickhouse/. */
export interface RequestLookupClient {
  query(params: {
    query: string;
    query_params?: Record<string, unknown>;
    format: "JSONEachRow";
  }): Promise<{ json<T>(): Promise<T[]> }>;
}

/** Whether `tenantId` owns `requestId` per the stored events. */
export type StoredRequestLookup = (requestId: string, tenantId: string) => Promise<boolean>;

export const DEFAULT_REMEMBERED_REQUESTS = 100_000;

// How far a request's completion may be from its start as the id says: past
// the longest total timeout a vendor may have, with room for clock skew.
const LOOKUP_BEFORE_MS = 60 * 60 * 1000;
const LOOKUP_AFTER_MS = 24 * 60 * 60 * 1000;

const REQUEST_ID_PATTERN = /^req_([0-9a-f]{12})[0-9a-f]{20}$/;

/** Epoch ms when a gateway request id was made, or null when it is not one. */
export function requestIdTime(requestId: string): number | null {
  const match = REQUEST_ID_PATTERN.exec(requestId);
  return match ? Number.parseInt(match[1] as string, 16) : null;
}

export class RequestOwners {
  // A Map keeps insertion order: the first key is the oldest.
  private readonly tenantByRequest = new Map<string, string>();

  constructor(
    private readonly options: {
      capacity?: number;
      /** Older requests, from ClickHouse; none: only what this gateway remembers. */
      lookup?: StoredRequestLookup;
    } = {},
  ) {}

  get size(): number {
    return this.tenantByRequest.size;
  }

  remember(requestId: string, tenantId: string): void {
    const capacity = this.options.capacity ?? DEFAULT_REMEMBERED_REQUESTS;
    if (this.tenantByRequest.size >= capacity && !this.tenantByRequest.has(requestId)) {
      const oldest = this.tenantByRequest.keys().next().value;
      if (oldest !== undefined) this.tenantByRequest.delete(oldest);
    }
    this.tenantByRequest.set(requestId, tenantId);
  }

  /** True when the request completed under this tenant; another tenant's request is false. */
  async isOwnedBy(requestId: string, tenantId: string): Promise<boolean> {
    const remembered = this.tenantByRequest.get(requestId);
    if (remembered !== undefined) return remembered === tenantId;
    if (!this.options.lookup || requestIdTime(requestId) === null) return false;
    return this.options.lookup(requestId, tenantId);
  }
}

/** `YYYY-MM-DD hh:mm:ss.sss`: chDB drops the milliseconds of a JS Date parameter. */
function clickhouseTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace("T", " ").replace("Z", "");
}

/** Looks a request up in switchboard.request_completed, bounded by tenant and time (the sorting key). */
export function clickhouseRequestLookup(client: RequestLookupClient): StoredRequestLookup {
  return async (requestId, tenantId) => {
    const startedAt = requestIdTime(requestId);
    if (startedAt === null) return false;
    const result = await client.query({
      query: `SELECT 1 AS found FROM switchboard.request_completed
              WHERE tenant_id = {tenant:String}
                AND occurred_at >= {from:DateTime64(3, 'UTC')} AND occurred_at < {to:DateTime64(3, 'UTC')}
                AND request_id = {request:String}
              LIMIT 1`,
      query_params: {
        tenant: tenantId,
        request: requestId,
        from: clickhouseTime(startedAt - LOOKUP_BEFORE_MS),
        to: clickhouseTime(startedAt + LOOKUP_AFTER_MS),
      },
      format: "JSONEachRow",
    });
    return (await result.json<{ found: number }>()).length > 0;
  };
}

/**
 * The gateway's sink, remembering the request id and tenant of every
 * request_completed it publishes: one comparison and one Map write per event.
 */
export function rememberingCompletions(sink: EventSink, owners: RequestOwners): EventSink {
  return {
    publish(event) {
      if (event.event_type === "request_completed")
        owners.remember(event.request_id, event.tenant_id);
      sink.publish(event);
    },
    append: (topic, key, value) => sink.append(topic, key, value),
    flush: () => sink.flush(),
    close: () => sink.close(),
  };
}
