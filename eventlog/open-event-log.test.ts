import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { LocalReplayFromError, openEventLog } from "./open-event-log.ts";

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0))
    rmSync(directory, { recursive: true, force: true });
});

function localLog() {
  const directory = mkdtempSync(join(tmpdir(), "switchboard-replay-from-"));
  directories.push(directory);
  return openEventLog({
    localDirectory: join(directory, "events"),
    outboxDirectory: join(directory, "outbox"),
    logger: pino({ level: "silent" }),
  });
}

describe("a replay of the local log", () => {
  it("refuses `from`, saying it needs Kafka, instead of replaying everything silently", async () => {
    const replay = localLog().openReplay(["switchboard.request_completed"], {
      from: new Date("2026-11-20T00:00:00Z"),
    });
    await expect(replay).rejects.toBeInstanceOf(LocalReplayFromError);
    await expect(replay).rejects.toThrow(/--from needs Kafka \(kafka_brokers\)/);
  });

  it("without `from` opens from the start", async () => {
    const replay = await localLog().openReplay(["switchboard.request_completed"]);
    expect(replay.endOffsets.size).toBe(0);
    await replay.source.close();
    await replay.cleanUp();
  });
});
