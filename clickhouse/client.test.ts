import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CHDB_ENGINE_ARGUMENTS,
  type ClickHouseClient,
  createClickHouse,
  unknownSettingOf,
  withoutSettings,
} from "./client.ts";

// chDB 26.7 knows every setting the code sends, so the server that does not
// is played by setting names no ClickHouse has: the engine refuses them with
// UNKNOWN_SETTING (115), exactly as an older server refuses a newer setting.
const MISSING = "switchboard_setting_from_the_future";
const ALSO_MISSING = "switchboard_other_setting_from_the_future";
const IN_SQL = "switchboard_sql_setting_from_the_future";

let directory: string;
let client: ClickHouseClient;
const warnings: { fields: Record<string, unknown>; message: string }[] = [];

beforeAll(() => {
  directory = mkdtempSync(join(tmpdir(), "switchboard-client-"));
  client = createClickHouse(`chdb:${directory}`, {
    logger: { warn: (fields, message) => warnings.push({ fields, message }) },
  });
});
afterAll(async () => {
  await client.close();
  rmSync(directory, { recursive: true, force: true });
});

describe("a setting the server does not know", () => {
  it("is refused by the engine with code 115 naming it; a streamed insert is not sent twice", async () => {
    await client.command({ query: "CREATE TABLE streamed (x UInt8) ENGINE = Memory" });
    // A stream cannot be replayed, so this insert fails as the engine answered.
    const error = await client
      .insert({
        table: `streamed SETTINGS ${MISSING} = 1`,
        values: Readable.from(['{"x":1}\n']),
        format: "JSONEachRow",
      })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(error).toMatchObject({ code: "115" });
    expect(unknownSettingOf(error)).toBe(MISSING);
    expect(warnings.map((warning) => warning.fields.setting)).toEqual([MISSING]);
    // Older servers word it differently; both name the setting.
    expect(
      unknownSettingOf({
        code: "115",
        message: `Setting ${MISSING} is neither a builtin setting nor started with the prefix 'custom_' registered for user-defined settings. (UNKNOWN_SETTING)`,
      }),
    ).toBe(MISSING);
    expect(unknownSettingOf({ code: "62", message: `Unknown setting '${MISSING}'` })).toBe(
      undefined,
    );
  });

  it("is dropped from the SQL with one warning, the query sent again, and left out from then on", async () => {
    const ask = async () => {
      const result = await client.query({
        query: `SELECT 41 + 1 AS answer SETTINGS max_threads = 1, ${IN_SQL} = 'x'`,
        format: "JSONEachRow",
      });
      return result.json();
    };
    expect(await ask()).toEqual([{ answer: 42 }]);
    expect(await ask()).toEqual([{ answer: 42 }]);
    const warned = warnings.filter((warning) => warning.fields.setting === IN_SQL);
    expect(warned).toHaveLength(1);
    expect(warned[0]?.message).toMatch(new RegExp(`does not know the setting ${IN_SQL}`));
  });

  it("is dropped from per-request settings, exec and command too, each warned once", async () => {
    await client.command({
      query: "CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x",
      clickhouse_settings: { [ALSO_MISSING]: 1 } as Record<string, number>,
    });
    const { stream } = await client.exec({
      query: `SELECT count() FROM t FORMAT CSV SETTINGS ${ALSO_MISSING} = 2`,
    });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString().trim()).toBe("0");
    expect(warnings.filter((warning) => warning.fields.setting === ALSO_MISSING)).toHaveLength(1);
  });

  it("is dropped from an insert's table string", async () => {
    await client.insert({
      table: `t SETTINGS ${MISSING} = 1`,
      values: [{ x: 7 }],
      format: "JSONEachRow",
    });
    const rows = await client.query({ query: "SELECT x FROM t", format: "JSONEachRow" });
    expect(await rows.json()).toEqual([{ x: 7 }]);
  });

  it("other errors pass through untouched", async () => {
    await expect(
      client.query({ query: "SELECT * FROM no_such_table", format: "JSONEachRow" }),
    ).rejects.toMatchObject({ code: "60" });
  });
});

describe("the embedded engine", () => {
  // Where a sandbox has no cgroup memory files it can read, an engine that
  // looks for them prints a stack trace on stderr at every start.
  it("starts with its memory worker off the cgroup files, as CHDB_ENGINE_ARGUMENTS say", async () => {
    expect(CHDB_ENGINE_ARGUMENTS).toContain("--memory_worker_use_cgroup=0");
    const rows = await client.query({
      query: "SELECT value FROM system.server_settings WHERE name = 'memory_worker_use_cgroup'",
      format: "JSONEachRow",
    });
    expect(await rows.json()).toEqual([{ value: "0" }]);
  });
});

describe("withoutSettings", () => {
  const drop = (sql: string, ...names: string[]) => withoutSettings(sql, new Set(names));

  it("takes one setting out of a list and keeps the rest and what follows", () => {
    expect(
      drop(
        "SELECT 1 FORMAT ArrowStream SETTINGS output_format_arrow_compression_method='none', output_format_arrow_use_native_writer=1, max_execution_time = 60",
        "output_format_arrow_use_native_writer",
      ),
    ).toBe(
      "SELECT 1 FORMAT ArrowStream SETTINGS output_format_arrow_compression_method = 'none', max_execution_time = 60",
    );
  });

  it("takes out a clause left empty, and leaves a FORMAT after it", () => {
    expect(drop("SELECT 1 SETTINGS a = 1\nFORMAT CSV", "a")).toBe("SELECT 1\nFORMAT CSV");
    expect(
      drop("db.t SETTINGS insert_deduplication_token='x,y'", "insert_deduplication_token"),
    ).toBe("db.t");
  });

  it("never touches quoted text or other statements' settings", () => {
    const sql = "SELECT 'SETTINGS a = 1' AS s SETTINGS b = 'it''s', a = 2";
    expect(drop(sql, "a")).toBe("SELECT 'SETTINGS a = 1' AS s SETTINGS b = 'it''s'");
    expect(drop(sql, "c")).toBe(sql);
    expect(drop("SELECT 1 -- SETTINGS a", "a")).toBe("SELECT 1 -- SETTINGS a");
  });

  it("handles every SETTINGS clause of a statement", () => {
    expect(
      drop(
        "CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x SETTINGS index_granularity = 8192, a = 1",
        "a",
      ),
    ).toBe(
      "CREATE TABLE t (x UInt8) ENGINE = MergeTree ORDER BY x SETTINGS index_granularity = 8192",
    );
  });
});
