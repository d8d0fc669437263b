import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type { ClickHouseClient } from "@clickhouse/client";

export const MIGRATIONS_DIRECTORY = new URL("./migrations/", import.meta.url);
const MIGRATION_NAME = /^(\d{4})_[a-z0-9_]+\.sql$/;

export interface Migration {
  version: number;
  name: string;
  checksum: string;
  statements: string[];
}

/** The migrations folder as an ordered list; numbering must run 0001, 0002, … with no gap. */
export function loadMigrations(directory: URL = MIGRATIONS_DIRECTORY): Migration[] {
  const names = readdirSync(directory)
    .filter((name) => name.endsWith(".sql"))
    .sort();
  return names.map((name, index) => {
    const match = MIGRATION_NAME.exec(name);
    if (!match) throw new Error(`migration file "${name}" is not named NNNN_snake_case.sql`);
    const version = Number(match[1]);
    if (version !== index + 1) {
      throw new Error(`migration "${name}" should be number ${String(index + 1).padStart(4, "0")}`);
    }
    const text = readFileSync(new URL(name, directory), "utf8");
    return {
      version,
      name,
      checksum: createHash("sha256").update(text).digest("hex"),
      statements: splitStatements(text),
    };
  });
}

/** Splits a migration into statements: a `;` ending a line ends a statement. */
export function splitStatements(sql: string): string[] {
  const withoutComments = sql
    .split("\n")
    .map((line) => line.replace(/--.*$/, ""))
    .join("\n");
  return withoutComments
    .split(/;\s*(?:\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement.length > 0);
}

const LEDGER = "switchboard.schema_migrations";

/**
 * Applies every migration not yet recorded, in order, and records each one.
 * A recorded migration whose file changed stops start-up: shipped migrations
 * are never edited, a change is a new file.
 */
export async function migrate(
  client: ClickHouseClient,
  directory: URL = MIGRATIONS_DIRECTORY,
): Promise<string[]> {
  await client.command({ query: "CREATE DATABASE IF NOT EXISTS switchboard" });
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${LEDGER}
      (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
      ENGINE = MergeTree ORDER BY version`,
  });
  const applied = await client.query({
    query: `SELECT version, name, checksum FROM ${LEDGER} ORDER BY version`,
    format: "JSONEachRow",
  });
  const recorded = new Map(
    (await applied.json<{ version: number; name: string; checksum: string }>()).map((row) => [
      Number(row.version),
      row,
    ]),
  );
  const newlyApplied: string[] = [];
  for (const migration of loadMigrations(directory)) {
    const previous = recorded.get(migration.version);
    if (previous) {
      if (previous.checksum !== migration.checksum) {
        throw new Error(
          `migration ${migration.name} changed after it was applied; add a new migration instead`,
        );
      }
      continue;
    }
    for (const statement of migration.statements) await client.command({ query: statement });
    await client.insert({
      table: LEDGER,
      values: [{ version: migration.version, name: migration.name, checksum: migration.checksum }],
      format: "JSONEachRow",
    });
    newlyApplied.push(migration.name);
  }
  return newlyApplied;
}
