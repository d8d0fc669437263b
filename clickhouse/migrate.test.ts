import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshClickHouse, queryRows, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import { loadMigrations, MIGRATIONS_DIRECTORY, migrate, splitStatements } from "./migrate.ts";

let clickhouse: TestClickHouse;
beforeAll(async () => {
  clickhouse = await freshClickHouse();
});
afterAll(() => clickhouse.close());

describe("migrations", () => {
  it("the folder is numbered 0001, 0002, … with no gap", () => {
    const migrations = loadMigrations();
    expect(migrations.map((migration) => migration.version)).toEqual(
      migrations.map((_, index) => index + 1),
    );
  });

  it("are all recorded once, and a second run applies nothing", async () => {
    const ledger = await queryRows<{ name: string }>(
      clickhouse.client,
      "SELECT name FROM switchboard.schema_migrations ORDER BY version",
    );
    expect(ledger.map((row) => row.name)).toEqual(loadMigrations().map((m) => m.name));
    expect(await migrate(clickhouse.client)).toEqual([]);
  });

  it("create the event and dead-letter tables", async () => {
    const tables = await queryRows<{ name: string }>(
      clickhouse.client,
      "SELECT name FROM system.tables WHERE database = 'switchboard' ORDER BY name",
    );
    expect(tables.map((table) => table.name)).toEqual(
      expect.arrayContaining([
        "attempt_failed",
        "dead_letters",
        "request_completed",
        "route_decided",
        "schema_migrations",
      ]),
    );
  });

  it("refuse to run when a shipped migration was edited", async () => {
    const edited = mkdtempSync(join(tmpdir(), "migrations-"));
    cpSync(MIGRATIONS_DIRECTORY, edited, { recursive: true });
    const first = loadMigrations()[0];
    writeFileSync(join(edited, first?.name ?? ""), "-- edited\nSELECT 1;\n");
    await expect(migrate(clickhouse.client, pathToFileURL(`${edited}/`))).rejects.toThrow(
      /changed after it was applied/,
    );
  });

  it("split statements on line-ending semicolons and drop comments", () => {
    expect(splitStatements("-- a; comment\nSELECT 1;\nSELECT ';' -- x\n;\n")).toEqual([
      "SELECT 1",
      "SELECT ';'",
    ]);
  });
});
