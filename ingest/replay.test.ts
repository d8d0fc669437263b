import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEventLog } from "../eventlog/index.ts";
import { topicFor } from "../events/topics.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { sampleAttemptFailed, sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { replay } from "./replay.ts";

// Replay from the embedded (local) log; the Kafka one, through the CLI, is
// test/fault/replay-rebuilds.test.ts.
const logger = pino({ level: "silent" });
let clickhouse: TestClickHouse;
let directory: string;
beforeAll(async () => {
  clickhouse = await freshClickHouse();
  directory = await mkdtemp(join(tmpdir(), "switchboard-replay-"));
});
afterAll(async () => {
  await clickhouse.close();
  await rm(directory, { recursive: true, force: true });
});

async function tableCounts() {
  const [row] = await queryRows<{
    completed: string;
    failed: string;
    letters: string;
    cost: string;
  }>(
    clickhouse.client,
    `SELECT (SELECT count() FROM switchboard.request_completed) AS completed,
            (SELECT count() FROM switchboard.attempt_failed) AS failed,
            (SELECT count() FROM switchboard.dead_letters) AS letters,
            (SELECT toString(sum(cost_usd)) FROM switchboard.request_completed) AS cost`,
  );
  return row;
}

describe("replay from the local log", () => {
  it("rebuilds the tables from the log; a second run changes nothing; its group is removed", async () => {
    const eventLog = openEventLog({ localDirectory: directory, logger });
    const sink = await eventLog.createSink();
    for (let index = 0; index < 40; index += 1) {
      sink.publish(sampleRequestCompleted({ cost_usd: "0.25", request_id: `r${index}` }));
      if (index % 4 === 0) sink.publish(sampleAttemptFailed({ request_id: `r${index}` }));
    }
    sink.append(topicFor("request_completed"), "poison", "{not json");
    await sink.close();

    const deadLetterSink = new RecordingSink();
    const first = await replay({ eventLog, clickhouse: clickhouse.client, deadLetterSink, logger });
    expect(first).toEqual({ records: 51, inserted: 50, duplicates: 0, deadLetters: 1 });
    expect(await tableCounts()).toEqual({
      completed: "40",
      failed: "10",
      letters: "1",
      cost: "10",
    });

    const second = await replay({
      eventLog,
      clickhouse: clickhouse.client,
      deadLetterSink,
      logger,
    });
    expect(second).toEqual({ records: 51, inserted: 0, duplicates: 50, deadLetters: 1 });
    expect(await tableCounts()).toEqual({
      completed: "40",
      failed: "10",
      letters: "1",
      cost: "10",
    });
    // The dead letter went to the dead-letter topic once.
    expect(deadLetterSink.appended).toHaveLength(1);
    // No replay group is left behind in the log.
    const positions = await readdir(join(directory, topicFor("request_completed"), ".consumers"));
    expect(positions).toEqual([]);
  });
});
