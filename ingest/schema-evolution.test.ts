// Schema evolution through ingest: route_decided is at version 2,
// attempt_failed at 3, request_completed at 4, and older versions keep arriving
// (old gateways, a replay of old topics). All land through the production
// loader, the older ones upcast (events/upcasters.ts), each with what was
// true when it was written.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LogRecord } from "../eventlog/ports.ts";
import { newEventId } from "../events/ids.ts";
import type { EventType } from "../events/schemas.ts";
import { topicFor } from "../events/topics.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { sampleAttemptFailed, sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { EventLoader } from "./loader.ts";

let clickhouse: TestClickHouse;
beforeAll(async () => {
  clickhouse = await freshClickHouse();
});
afterAll(() => clickhouse.close());

let offset = 0;
function record(eventType: EventType, event: unknown): LogRecord {
  offset += 1;
  return {
    topic: topicFor(eventType),
    partition: 0,
    offset: String(offset),
    key: "k",
    value: Buffer.from(JSON.stringify(event)),
  };
}

/** request_completed as a v3 gateway wrote it, before it recorded the service tier. */
function requestCompletedAsV3(tenant: string, cost: string) {
  const {
    service_tier: _tier,
    vendor_service_tier: _vendorTier,
    ...v3
  } = sampleRequestCompleted({ tenant_id: tenant, cost_usd: cost });
  return { ...v3, schema_version: 3 };
}

/** request_completed as a v2 gateway wrote it, before it recorded how answers ended. */
function requestCompletedAsV2(tenant: string, cost: string) {
  const {
    finish_reason: _finish,
    vendor_finish_reason: _vendorFinish,
    ...v2
  } = requestCompletedAsV3(tenant, cost);
  return { ...v2, schema_version: 2 };
}

/** request_completed exactly as a v1 gateway wrote it, before cache writes and reasoning were split out. */
function requestCompletedAsV1(tenant: string, cost: string) {
  const {
    key_id: _key,
    team: _team,
    tags: _tags,
    list_cost_usd: _list,
    contract_id: _contract,
    price_known: _known,
    prompt_sha256: _hash,
    warnings: _warnings,
    cache_write_input_tokens: _cacheWrite,
    reasoning_tokens: _reasoning,
    usage_source: _source,
    ...v1
  } = requestCompletedAsV2(tenant, cost);
  return { ...v1, schema_version: 1 };
}

describe("schema evolution: older events after the current ones", () => {
  it("stores v4 events as they are and v3, v2 and v1 events upcast, through the same loader", async () => {
    const loader = new EventLoader(clickhouse.client, new RecordingSink());
    const tenant = "evolution";
    const current = [1, 2].map((index) =>
      sampleRequestCompleted({
        tenant_id: tenant,
        cost_usd: `0.${index}`,
        list_cost_usd: `0.${index + 5}`,
        key_id: "acme-prod",
        team: "search",
        tags: ["env:prod"],
        contract_id: "alpha-2026",
        service_tier: "batch",
        vendor_service_tier: "batch",
      }),
    );
    const stored = await loader.store([
      record("request_completed", current[0]),
      record("request_completed", requestCompletedAsV1(tenant, "0.3")),
      record("request_completed", current[1]),
      record("request_completed", requestCompletedAsV2(tenant, "0.4")),
      record("request_completed", requestCompletedAsV3(tenant, "0.5")),
    ]);
    expect(stored.rows.request_completed).toBe(5);
    expect(stored.deadLetters).toBe(0);

    const rows = await queryRows<Record<string, unknown>>(
      clickhouse.client,
      `SELECT toString(cost_usd) AS cost, toString(list_cost_usd) AS list, key_id, team, tags,
              contract_id, price_known, usage_source, finish_reason, vendor_finish_reason,
              service_tier, vendor_service_tier, schema_version AS version
       FROM switchboard.request_completed FINAL WHERE tenant_id = {tenant:String} ORDER BY cost`,
      { tenant },
    );
    const fromV4 = (cost: string, list: string) => ({
      cost,
      list,
      key_id: "acme-prod",
      team: "search",
      tags: ["env:prod"],
      contract_id: "alpha-2026",
      price_known: true,
      usage_source: "reported",
      finish_reason: "stop",
      vendor_finish_reason: "stop",
      service_tier: "batch",
      vendor_service_tier: "batch",
      version: 4,
    });
    const upcastFromV1 = {
      key_id: "",
      team: "",
      tags: [],
      contract_id: null,
      price_known: true,
      usage_source: "reported",
      finish_reason: null,
      vendor_finish_reason: null,
      // Before v4 every request was priced at its card's standard rates.
      service_tier: "standard",
      vendor_service_tier: null,
      version: 4,
    };
    expect(rows).toEqual([
      fromV4("0.1", "0.6"),
      fromV4("0.2", "0.7"),
      // v1: no key, team or contract was known; list equals what was owed.
      { ...upcastFromV1, cost: "0.3", list: "0.3" },
      // v2: how the answer ended was not recorded.
      { ...upcastFromV1, cost: "0.4", list: "0.0000135", key_id: "acme-prod" },
      // v3: the tier was not recorded.
      {
        ...upcastFromV1,
        cost: "0.5",
        list: "0.0000135",
        key_id: "acme-prod",
        finish_reason: "stop",
        vendor_finish_reason: "stop",
      },
    ]);
  });

  it("upcasts v1 decisions and failed attempts with the facts of v1 gateways", async () => {
    const loader = new EventLoader(clickhouse.client, new RecordingSink());
    const tenant = "evolution-routing";
    const {
      error_code: _code,
      next_action: _action,
      backoff_ms: _backoff,
      ...attemptV1
    } = sampleAttemptFailed({ tenant_id: tenant, error_class: "rate_limited", http_status: 429 });
    const decisionV1 = {
      event_id: newEventId(),
      event_type: "route_decided",
      schema_version: 1,
      occurred_at: "2026-11-20T10:00:00.000Z",
      tenant_id: tenant,
      request_id: "req_1",
      task: "extraction",
      request_model: "fast",
      policy: "fallback",
      candidates: [
        { vendor: "alpha", model: "sim-small", rank: 1, skipped_reason: null },
        { vendor: "beta", model: "sim-small", rank: 2, skipped_reason: "no embeddings" },
      ],
      chosen_vendor: "alpha",
      chosen_model: "sim-small",
      reason: "first of the route's ordered fallback list",
    };
    const stored = await loader.store([
      record("attempt_failed", { ...attemptV1, schema_version: 1 }),
      record("route_decided", decisionV1),
    ]);
    expect(stored.deadLetters).toBe(0);

    const attempts = await queryRows<Record<string, unknown>>(
      clickhouse.client,
      `SELECT error_code, next_action, backoff_ms FROM switchboard.attempt_failed FINAL
       WHERE tenant_id = {tenant:String}`,
      { tenant },
    );
    expect(attempts).toEqual([
      { error_code: "upstream_rate_limited", next_action: "next_candidate", backoff_ms: null },
    ]);
    const decisions = await queryRows<Record<string, unknown>>(
      clickhouse.client,
      `SELECT task_source, policy, score_basis, candidate_scores,
              arrayMap(candidate -> candidate.skipped_reason, candidates) AS skipped
       FROM switchboard.route_decided FINAL WHERE tenant_id = {tenant:String}`,
      { tenant },
    );
    expect(decisions).toEqual([
      {
        task_source: "header",
        policy: "fallback",
        score_basis: null,
        candidate_scores: [null, null],
        skipped: [null, "no embeddings"],
      },
    ]);
  });

  it("dead-letters what cannot be brought to the current version, and keeps the rest of the batch", async () => {
    const loader = new EventLoader(clickhouse.client, new RecordingSink());
    const tenant = "evolution-bad";
    const fromTheFuture = { ...sampleRequestCompleted({ tenant_id: tenant }), schema_version: 5 };
    const { price_known: _known, ...withoutPriceKnown } = sampleRequestCompleted({
      tenant_id: tenant,
    });
    const good = sampleRequestCompleted({ tenant_id: tenant });
    const batch = [
      record("request_completed", fromTheFuture),
      record("request_completed", withoutPriceKnown),
      record("request_completed", good),
    ];
    const stored = await loader.store(batch);
    expect(stored.rows.request_completed).toBe(1);
    expect(stored.deadLetters).toBe(2);
    const reasons = await queryRows<{ reason: string }>(
      clickhouse.client,
      "SELECT reason FROM switchboard.dead_letters WHERE source_offset IN ({offsets:Array(UInt64)}) ORDER BY source_offset",
      { offsets: batch.slice(0, 2).map((one) => Number(one.offset)) },
    );
    expect(reasons.map((row) => row.reason)).toEqual([
      "request_completed schema_version 5 is newer than 4",
      expect.stringMatching(/^invalid request_completed: price_known: /),
    ]);
  });
});
