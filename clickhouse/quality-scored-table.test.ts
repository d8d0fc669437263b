import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { topicFor } from "../events/topics.ts";
import { EventLoader } from "../ingest/loader.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { sampleQualityScored } from "../test/fixtures/sample-events.ts";

let clickhouse: TestClickHouse;
beforeAll(async () => {
  clickhouse = await freshClickHouse();
});
afterAll(() => clickhouse.close());

describe("the quality_scored table", () => {
  it("stores each kind of score as ingest writes it, and reads it back by type", async () => {
    const events = [
      sampleQualityScored({ request_id: "r1", value: { type: "boolean", boolean: true } }),
      sampleQualityScored({
        request_id: "r2",
        metric: "relevance",
        source: "eval",
        gold_set_name: "support",
        gold_set_version: "v3",
        value: { type: "number", number: 3.5, minimum: 0, maximum: 5 },
      }),
      sampleQualityScored({
        request_id: "r3",
        metric: "tone",
        source: "heuristic",
        comment: "too casual",
        value: { type: "category", category: "casual" },
      }),
    ];
    const stored = await new EventLoader(clickhouse.client, new RecordingSink()).store(
      events.map((event, index) => ({
        topic: topicFor(event.event_type),
        partition: 0,
        offset: String(index),
        key: event.request_id,
        value: Buffer.from(JSON.stringify(event)),
      })),
    );
    expect(stored.deadLetters).toBe(0);
    const rows = await queryRows(
      clickhouse.client,
      `SELECT request_id, metric, value.type AS type, value.boolean AS boolean,
              value.number AS number, value.minimum AS minimum, value.maximum AS maximum,
              value.category AS category, source, gold_set_name, gold_set_version, comment
       FROM switchboard.quality_scored FINAL ORDER BY request_id`,
    );
    expect(rows).toEqual([
      {
        request_id: "r1",
        metric: "helpful",
        type: "boolean",
        boolean: true,
        number: null,
        minimum: null,
        maximum: null,
        category: null,
        source: "human",
        gold_set_name: null,
        gold_set_version: null,
        comment: null,
      },
      {
        request_id: "r2",
        metric: "relevance",
        type: "number",
        boolean: null,
        number: 3.5,
        minimum: 0,
        maximum: 5,
        category: null,
        source: "eval",
        gold_set_name: "support",
        gold_set_version: "v3",
        comment: null,
      },
      {
        request_id: "r3",
        metric: "tone",
        type: "category",
        boolean: null,
        number: null,
        minimum: null,
        maximum: null,
        category: "casual",
        source: "heuristic",
        gold_set_name: null,
        gold_set_version: null,
        comment: "too casual",
      },
    ]);
  });
});
