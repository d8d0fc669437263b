// Which tenant a request id belongs to, so POST /v1/feedback scores only the
// caller's own requests, and what its request_completed recorded (time,
// task, vendor, model, key, team, tags), which the score carries so scores
// roll up without a join (events/schemas.ts: scored_request). Two places,
// nearest first:
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
import type { RequestCompleted, ScoredRequest } from "../events/schemas.ts";

/** The one ClickHouse call the lookup needs, so the gateway does not import clickhouse/. */
export interface RequestLookupClient {
  query(params: {
    query: string;
    query_params?: Record<string, unknown>;
    format: "JSONEachRow";
  }): Promise<{ json<T>(): Promise<T[]> }>;
}

/** The request as stored when `tenantId` owns `requestId`, else null. */
export type StoredRequestLookup = (
  requestId: string,
  tenantId: string,
) => Promise<ScoredRequest | null>;

/** What a score of this completed request carries. */
export function scoredRequestOf(event: RequestCompleted): ScoredRequest {
  return {
    occurred_at: event.occurred_at,
    task: event.task,
    vendor: event.vendor,
    model: event.model,
    key_id: event.key_id,
    team: event.team,
    tags: event.tags,
  };
}

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

/**
 * Memory is keyed by tenant and id together, so it only ever answers for the
 * caller's own requests. Another tenant's id misses it exactly as an unknown
 * id does, and both go on to the same store lookup under the caller's tenant:
 * the same work and the same answer, so neither the answer nor its timing
 * tells a caller that an id exists under another tenant. (Keyed by id alone,
 * another tenant's recent request was refused from memory in ~3 ms while an
 * unknown id waited ~15 ms on ClickHouse.)
 */
function memoryKey(tenantId: string, requestId: string): string {
  return JSON.stringify([tenantId, requestId]);
}

export class RequestOwners {
  // A Map keeps insertion order: the first key is the oldest.
  private readonly known = new Map<string, ScoredRequest>();

  constructor(
    private readonly options: {
      capacity?: number;
      /** Older requests, from ClickHouse; none: only what this gateway remembers. */
      lookup?: StoredRequestLookup;
    } = {},
  ) {}

  get size(): number {
    return this.known.size;
  }

  remember(event: RequestCompleted): void {
    const capacity = this.options.capacity ?? DEFAULT_REMEMBERED_REQUESTS;
    const key = memoryKey(event.tenant_id, event.request_id);
    if (this.known.size >= capacity && !this.known.has(key)) {
      const oldest = this.known.keys().next().value;
      if (oldest !== undefined) this.known.delete(oldest);
    }
    this.known.set(key, scoredRequestOf(event));
  }

  /**
   * The request when it completed under this tenant; null for none, or
   * another tenant's, which take the same path (memoryKey says why). Only the
   * caller's own remembered requests are answered from memory.
   */
  async requestOf(requestId: string, tenantId: string): Promise<ScoredRequest | null> {
    const remembered = this.known.get(memoryKey(tenantId, requestId));
    if (remembered !== undefined) return remembered;
    // Whether an id has the gateway's form is read from the id alone, the
    // same for every tenant, so skipping the store for it discloses nothing.
    if (!this.options.lookup || requestIdTime(requestId) === null) return null;
    return this.options.lookup(requestId, tenantId);
  }
}

/** `YYYY-MM-DD hh:mm:ss.sss`: chDB drops the milliseconds of a JS Date parameter. */
function clickhouseTime(epochMs: number): string {
  return new Date(epochMs).toISOString().replace("T", " ").replace("Z", "");
}

interface StoredRequestRow {
  occurred_at_ms: string;
  task: string;
  vendor: string;
  model: string;
  key_id: string;
  team: string;
  tags: string[];
}

/** Looks a request up in switchboard.request_completed, bounded by tenant and time (the sorting key). */
export function clickhouseRequestLookup(client: RequestLookupClient): StoredRequestLookup {
  return async (requestId, tenantId) => {
    const startedAt = requestIdTime(requestId);
    if (startedAt === null) return null;
    const result = await client.query({
      query: `SELECT toUnixTimestamp64Milli(occurred_at) AS occurred_at_ms, task, vendor, model,
                     key_id, team, tags
              FROM switchboard.request_completed
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
    const [row] = await result.json<StoredRequestRow>();
    if (!row) return null;
    // The table keeps '' for a request_completed's null vendor, model, key and team.
    return {
      occurred_at: new Date(Number(row.occurred_at_ms)).toISOString(),
      task: row.task,
      vendor: row.vendor || null,
      model: row.model || null,
      key_id: row.key_id || null,
      team: row.team || null,
      tags: row.tags,
    };
  };
}

/**
 * The gateway's sink, remembering every request_completed it publishes:
 * one comparison, one small object and one Map write per event.
 */
export function rememberingCompletions(sink: EventSink, owners: RequestOwners): EventSink {
  return {
    publish(event) {
      if (event.event_type === "request_completed") owners.remember(event);
      sink.publish(event);
    },
    append: (topic, key, value) => sink.append(topic, key, value),
    flush: () => sink.flush(),
    close: () => sink.close(),
  };
}
