import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseReplayArguments } from "./replay-arguments.ts";

describe("switchboard replay's arguments", () => {
  it("--from, in either form, or nothing", () => {
    expect(parseReplayArguments([])).toEqual({});
    expect(parseReplayArguments(["--from", "2026-11-20T00:00:00Z"])).toEqual({
      from: new Date("2026-11-20T00:00:00Z"),
    });
    expect(parseReplayArguments(["--from=2026-11-20"])).toEqual({
      from: new Date("2026-11-20T00:00:00Z"),
    });
  });

  it("refuses anything else, saying what it takes", () => {
    expect(() => parseReplayArguments(["--to", "2026-11-20"])).toThrow(
      /^replay: Unknown option '--to'.*; it takes only --from <ISO-8601 time>$/,
    );
    expect(() => parseReplayArguments(["yesterday"])).toThrow(/it takes only --from/);
    expect(() => parseReplayArguments(["--from"])).toThrow(/it takes only --from/);
    expect(() => parseReplayArguments(["--from", "May"])).toThrow(
      'replay --from takes an ISO-8601 time, e.g. --from 2026-11-20T00:00:00Z, not "May"',
    );
  });
});

describe("switchboard replay --from on the local event log", () => {
  it("exits 1 saying --from needs Kafka, before opening ClickHouse", () => {
    const directory = mkdtempSync(join(tmpdir(), "switchboard-replay-from-"));
    try {
      // The demo config, its data elsewhere; no Kafka.
      const environment: NodeJS.ProcessEnv = {
        ...process.env,
        SWITCHBOARD_CONFIG: "config/switchboard.yaml",
        SWITCHBOARD_DATA_DIR: directory,
      };
      delete environment.KAFKA_BROKERS;
      const run = spawnSync(
        process.execPath,
        ["bin/switchboard.js", "replay", "--from", "2026-11-20T00:00:00Z"],
        { env: environment, encoding: "utf8", timeout: 60_000 },
      );
      expect(run.stderr).toContain("replay --from needs Kafka (kafka_brokers)");
      expect(run.status).toBe(1);
      // Refused before ClickHouse opened: no chDB directory was made.
      expect(existsSync(join(directory, "clickhouse"))).toBe(false);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
