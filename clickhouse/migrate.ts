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

const LEDGER_DATABASE = "switchboard";
const LEDGER_TABLE = "schema_migrations";
const LEDGER = `${LEDGER_DATABASE}.${LEDGER_TABLE}`;

/** The ledger: one row per applied migration, and the cluster it was rendered for. */
export const LEDGER_CREATE = `CREATE TABLE IF NOT EXISTS ${LEDGER}
  (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3),
   cluster String DEFAULT '')
  ENGINE = MergeTree ORDER BY version`;

export interface MigrateOptions {
  /**
   * A cluster named in the servers' `remote_servers` (one shard, its
   * replicas): every statement is rendered for it (`renderForCluster`).
   * Unset: a single server, or chDB, with the statements as written.
   */
  cluster?: string;
}

/**
 * Applies every migration not yet recorded, in order, and records each one
 * with the cluster it was rendered for ('' when none). A recorded migration
 * whose file changed stops start-up: shipped migrations are never edited, a
 * change is a new file. So does a ledger written in the other mode: tables
 * created unreplicated do not become replicated by migrating again.
 */
export async function migrate(
  client: ClickHouseClient,
  directory: URL = MIGRATIONS_DIRECTORY,
  options: MigrateOptions = {},
): Promise<string[]> {
  const cluster = options.cluster ?? "";
  if (cluster !== "" && !CLUSTER_NAME.test(cluster)) {
    throw new Error(`cluster name "${cluster}" is not a plain identifier`);
  }
  const render = (statement: string) =>
    cluster === "" ? statement : renderForCluster(statement, cluster);
  const migrations = loadMigrations(directory);
  const ledger = await readLedger(client);
  const recorded = ledger.rows;
  for (const row of recorded.values()) {
    if ((row.cluster === "") !== (cluster === "")) {
      throw new Error(
        `migration ${row.name} was applied ${row.cluster === "" ? "to a single server" : `for cluster ${row.cluster}`}, ` +
          `but ${cluster === "" ? "no cluster" : `cluster ${cluster}`} is configured now: ` +
          "set clickhouse_cluster as it was, or move the data to a fresh database of the new kind (docs/architecture.md, Scaling out)",
      );
    }
  }
  // DDL only when something is missing: on a cluster each statement waits
  // for every replica, and a restart with one replica down must still pass
  // when there is nothing to apply.
  if (!ledger.exists) {
    await client.command({ query: render(`CREATE DATABASE IF NOT EXISTS ${LEDGER_DATABASE}`) });
    await client.command({ query: render(LEDGER_CREATE) });
  } else if (!ledger.hasClusterColumn) {
    // A ledger written before the column: every row was a single server's.
    await client.command({
      query: render(`ALTER TABLE ${LEDGER} ADD COLUMN IF NOT EXISTS cluster String DEFAULT ''`),
    });
  }
  const newlyApplied: string[] = [];
  for (const migration of migrations) {
    const previous = recorded.get(migration.version);
    if (previous) {
      if (previous.checksum !== migration.checksum) {
        throw new Error(
          `migration ${migration.name} changed after it was applied; add a new migration instead`,
        );
      }
      continue;
    }
    for (const statement of migration.statements) {
      await client.command({ query: render(statement) });
    }
    await client.insert({
      table: LEDGER,
      values: [
        { version: migration.version, name: migration.name, checksum: migration.checksum, cluster },
      ],
      format: "JSONEachRow",
    });
    newlyApplied.push(migration.name);
  }
  return newlyApplied;
}

interface LedgerRow {
  version: number;
  name: string;
  checksum: string;
  cluster: string;
}

/** The ledger, read only, so a mode mismatch stops before any DDL. */
async function readLedger(client: ClickHouseClient): Promise<{
  exists: boolean;
  hasClusterColumn: boolean;
  rows: Map<number, LedgerRow>;
}> {
  const columns = await client.query({
    query:
      "SELECT name FROM system.columns WHERE database = {database:String} AND table = {table:String}",
    query_params: { database: LEDGER_DATABASE, table: LEDGER_TABLE },
    format: "JSONEachRow",
  });
  const names = new Set((await columns.json<{ name: string }>()).map((column) => column.name));
  if (names.size === 0) return { exists: false, hasClusterColumn: false, rows: new Map() };
  const hasClusterColumn = names.has("cluster");
  const applied = await client.query({
    query: `SELECT version, name, checksum, ${hasClusterColumn ? "cluster" : "'' AS cluster"}
            FROM ${LEDGER} ORDER BY version`,
    format: "JSONEachRow",
  });
  const rows = new Map(
    (await applied.json<LedgerRow>()).map((row) => [Number(row.version), row] as const),
  );
  return { exists: true, hasClusterColumn, rows };
}

const CLUSTER_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Where a replicated table keeps its state in Keeper. `{uuid}` (the server's
 * own default) rather than the table's name: a table dropped and created
 * again by a migration (0009 does) gets a fresh path, so a replica that was
 * down during the drop cannot collide with the new table's metadata. The
 * initiator of an ON CLUSTER statement picks the UUID, so every replica of
 * one table shares the path. `{shard}` and `{replica}` are each server's
 * macros (deploy/clickhouse/).
 */
export const REPLICA_PATH = "'/clickhouse/tables/{uuid}/{shard}', '{replica}'";

const MERGE_TREE_ENGINE =
  /ENGINE\s*=\s*(Replacing|Aggregating|Summing|Collapsing|VersionedCollapsing|Graphite|)MergeTree\b(?:\s*\(([^()]*)\))?/g;

/** Statement kinds that take ON CLUSTER right after the object's name. */
const ON_CLUSTER_AFTER_NAME = [
  /^CREATE\s+DATABASE\s+(?:IF\s+NOT\s+EXISTS\s+)?[\w`]+/i,
  /^CREATE\s+(?:TABLE|(?:MATERIALIZED\s+)?VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?[\w`]+(?:\.[\w`]+)?/i,
  /^ALTER\s+TABLE\s+[\w`]+(?:\.[\w`]+)?/i,
  /^DROP\s+(?:TABLE|VIEW|DICTIONARY|DATABASE)\s+(?:IF\s+EXISTS\s+)?[\w`]+(?:\.[\w`]+)?/i,
  /^TRUNCATE\s+(?:TABLE\s+)?(?:IF\s+EXISTS\s+)?[\w`]+(?:\.[\w`]+)?/i,
  /^OPTIMIZE\s+TABLE\s+[\w`]+(?:\.[\w`]+)?/i,
];

/**
 * One migration statement for a cluster of one shard and its replicas (the
 * Langfuse approach: one canonical text, rendered at apply time, so a
 * shipped file and its checksum never change):
 *
 * - DDL gets `ON CLUSTER <cluster>`, so every replica runs it (the views on
 *   each node too: a view fires only on the node that receives the insert);
 * - every *MergeTree engine becomes Replicated*MergeTree (materialized views'
 *   target tables included), so rows inserted on one replica reach the others
 *   and the deduplication of a retried block is shared through Keeper;
 * - INSERT … SELECT (a rollup's back-fill) runs once, on the node migrating:
 *   its rows replicate, and the views it fires there write replicated tables.
 *
 * A statement of any other kind is refused, so a new kind of migration
 * statement is rendered on purpose, not by accident.
 */
export function renderForCluster(statement: string, cluster: string): string {
  if (!CLUSTER_NAME.test(cluster))
    throw new Error(`cluster name "${cluster}" is not a plain identifier`);
  const sql = statement.trim();
  if (/^INSERT\s+INTO\b/i.test(sql)) return sql;
  const head = ON_CLUSTER_AFTER_NAME.map((pattern) => pattern.exec(sql)).find(
    (match) => match !== null,
  );
  if (!head) {
    throw new Error(
      `no cluster rendering for this statement; teach renderForCluster its kind: ${sql.slice(0, 80)}`,
    );
  }
  if (/\bON\s+CLUSTER\b/i.test(sql)) {
    throw new Error(`a migration names no cluster itself: ${sql.slice(0, 80)}`);
  }
  const withCluster = `${head[0]} ON CLUSTER ${cluster}${sql.slice(head[0].length)}`;
  return withCluster.replace(
    MERGE_TREE_ENGINE,
    (whole, kind: string, args: string | undefined, offset: number) => {
      const rest = withCluster.slice(offset + whole.length);
      if (/^\s*\(/.test(rest)) throw new Error(`engine arguments too nested to render: ${whole}`);
      const engineArguments = args?.trim() ? `${REPLICA_PATH}, ${args.trim()}` : REPLICA_PATH;
      return `ENGINE = Replicated${kind}MergeTree(${engineArguments})`;
    },
  );
}
