// Which tenant owns a request: bounded memory first, then the stored events in chDB.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshClickHouse, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { loadEvents } from "../test/fixtures/load-events.ts";
import { sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import {
  clickhouseRequestLookup,
  RequestOwners,
  requestIdTime,
  scoredRequestOf,
} from "./request-owners.ts";

// req_ + a UUIDv7 whose first 48 bits are 2026-11-20T10:00:00.000Z.
const startedAt = Date.parse("2026-11-20T10:00:00.000Z");
const requestId = `req_${startedAt.toString(16).padStart(12, "0")}7000800000000000abcd`;
const skewed = `req_${startedAt.toString(16).padStart(12, "0")}7000800000000000ef01`;

let clickhouse: TestClickHouse;
beforeAll(async () => {
  clickhouse = await freshClickHouse();
  await loadEvents(clickhouse.client, [
    sampleRequestCompleted({
      tenant_id: "acme",
      request_id: requestId,
      occurred_at: "2026-11-20T10:00:01.500Z",
      task: "code",
      // A request no vendor answered (refused before routing).
      status: "error",
      http_status: 429,
      error_class: "rate_limited",
      vendor: null,
      model: null,
      response_model: null,
      key_id: "acme-search",
      team: null,
      tags: ["prod", "search"],
    }),
    // Stored three days after the time its id says: outside the window looked at.
    sampleRequestCompleted({
      tenant_id: "acme",
      request_id: skewed,
      occurred_at: "2026-11-23T10:00:00.000Z",
    }),
  ]);
});
afterAll(() => clickhouse?.close());

describe("RequestOwners", () => {
  it("reads the time inside a gateway request id, and nothing from other ids", () => {
    expect(requestIdTime(requestId)).toBe(startedAt);
    expect(requestIdTime("chatcmpl-123")).toBeNull();
  });

  it("forgets the oldest past its capacity, and never asks the store about the caller's remembered id", async () => {
    const asked: string[] = [];
    const owners = new RequestOwners({
      capacity: 2,
      lookup: async (id) => {
        asked.push(id);
        return null;
      },
    });
    const completions = ["a", "b", "c"].map((letter) =>
      sampleRequestCompleted({
        request_id: `req_${"0".repeat(31)}${letter}`,
        tenant_id: "acme",
        team: "search",
        tags: ["prod"],
      }),
    );
    const ids = completions.map((event) => event.request_id);
    for (const event of completions) owners.remember(event);
    expect(owners.size).toBe(2);
    expect(await owners.requestOf(ids[2] as string, "acme")).toEqual({
      occurred_at: "2026-11-20T10:00:00.123Z",
      task: "general",
      vendor: "alpha",
      model: "sim-small",
      key_id: "acme-prod",
      team: "search",
      tags: ["prod"],
    });
    expect(asked).toEqual([]);
    expect(await owners.requestOf(ids[0] as string, "acme")).toBeNull();
    expect(asked).toEqual([ids[0]]);
  });

  it("takes another tenant's remembered request down the same path as an unknown id: the store, under the caller's tenant", async () => {
    const asked: [string, string][] = [];
    const owners = new RequestOwners({
      lookup: async (id, tenant) => {
        asked.push([id, tenant]);
        return null;
      },
    });
    const acmeRequest = sampleRequestCompleted({ request_id: requestId, tenant_id: "acme" });
    owners.remember(acmeRequest);
    const unknownId = `req_${startedAt.toString(16).padStart(12, "0")}70008000000000009999`;

    const crossTenant = await owners.requestOf(requestId, "globex");
    const unknown = await owners.requestOf(unknownId, "globex");

    expect(crossTenant).toBeNull();
    expect(unknown).toBeNull();
    // Both consulted the store, once each, for the caller's tenant: memory
    // answered neither, so neither can answer sooner than the other.
    expect(asked).toEqual([
      [requestId, "globex"],
      [unknownId, "globex"],
    ]);
    // The owner is still answered from memory.
    expect(await owners.requestOf(requestId, "acme")).toEqual(scoredRequestOf(acmeRequest));
    expect(asked).toHaveLength(2);
  });

  it("finds a stored request by tenant and by the time in its id (chDB)", async () => {
    const lookup = clickhouseRequestLookup(clickhouse.client);
    // As stored: '' for the null vendor, model, key and team given back as null.
    expect(await lookup(requestId, "acme")).toEqual({
      occurred_at: "2026-11-20T10:00:01.500Z",
      task: "code",
      vendor: null,
      model: null,
      key_id: "acme-search",
      team: null,
      tags: ["prod", "search"],
    });
    expect(await lookup(requestId, "globex")).toBeNull();
    expect(await lookup(skewed, "acme")).toBeNull();
    expect(await lookup("req_unknown", "acme")).toBeNull();
  });
});
