import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../cli/config.ts";
import { freshClickHouse, queryRows, type TestClickHouse } from "../test/fixtures/clickhouse.ts";
import {
  LEDGER_CREATE,
  loadMigrations,
  MIGRATIONS_DIRECTORY,
  migrate,
  REPLICA_PATH,
  renderForCluster,
} from "./migrate.ts";

// chDB has no cluster to run ON CLUSTER against, so the cluster rendering is
// checked by the engine's own parser (formatQuery) and by comparing it,
// statement by statement, with the single-server text the other tests apply.
const CLUSTER = "switchboard";

let clickhouse: TestClickHouse;
beforeAll(async () => {
  clickhouse = await freshClickHouse();
});
afterAll(() => clickhouse.close());

async function format(sql: string): Promise<string> {
  const [row] = await queryRows<{ formatted: string }>(
    clickhouse.client,
    "SELECT formatQuery({sql:String}) AS formatted",
    { sql },
  );
  return row?.formatted ?? "";
}

/** A formatted cluster statement with its cluster parts taken out again. */
function unclustered(formatted: string): string {
  const replicaArguments = REPLICA_PATH.replace(/[{}()[\]\\.*+?^$|]/g, "\\$&");
  return formatted
    .replace(` ON CLUSTER ${CLUSTER}`, "")
    .replace(
      new RegExp(`Replicated(\\w*)MergeTree\\(${replicaArguments}(, )?`, "g"),
      "$1MergeTree(",
    )
    .replace(/MergeTree\(\)/g, "MergeTree");
}

const statements = [
  { migration: "the ledger", statement: LEDGER_CREATE },
  ...loadMigrations().flatMap((migration) =>
    migration.statements.map((statement) => ({ migration: migration.name, statement })),
  ),
];

describe("every migration statement, rendered for a cluster", () => {
  it.each(statements)(
    "$migration: parses, and differs only by its cluster parts",
    async ({ statement }) => {
      const rendered = renderForCluster(statement, CLUSTER);
      const formatted = await format(rendered);
      expect(unclustered(formatted)).toBe(await format(statement));
      if (/^INSERT\b/i.test(statement)) {
        // A back-fill runs once, on the node migrating; its rows replicate.
        expect(rendered).toBe(statement.trim());
      } else {
        expect(formatted).toContain(` ON CLUSTER ${CLUSTER}`);
      }
      // No table is left unreplicated, materialized views' targets included.
      expect(formatted).not.toMatch(/ENGINE = (?!Replicated)\w*MergeTree/);
    },
  );

  it("covers every table a migration creates, and every view's target is replicated", () => {
    const engines = new Map<string, string>();
    for (const { statement } of statements) {
      const created = /^CREATE TABLE IF NOT EXISTS (\S+)/i.exec(statement);
      if (created) {
        const engine = /ENGINE\s*=\s*(\w+)/.exec(renderForCluster(statement, CLUSTER));
        engines.set(created[1] as string, engine?.[1] ?? "");
      }
    }
    expect(engines.size).toBeGreaterThan(10);
    for (const [table, engine] of engines)
      expect([table, engine]).toEqual([table, expect.stringMatching(/^Replicated\w*MergeTree$/)]);
    const targets = statements.flatMap(({ statement }) => {
      const view = /^CREATE MATERIALIZED VIEW .*?\sTO\s+(\S+)/is.exec(statement);
      return view ? [view[1] as string] : [];
    });
    expect(targets.length).toBeGreaterThan(5);
    for (const target of targets) expect(engines.has(target)).toBe(true);
  });
});

describe("renderForCluster", () => {
  it("replicates each MergeTree kind, keeping the engine's own arguments", () => {
    expect(
      renderForCluster(
        "CREATE TABLE IF NOT EXISTS d.t (v UInt8) ENGINE = ReplacingMergeTree(v) ORDER BY v",
        "c",
      ),
    ).toBe(
      `CREATE TABLE IF NOT EXISTS d.t ON CLUSTER c (v UInt8) ENGINE = ReplicatedReplacingMergeTree(${REPLICA_PATH}, v) ORDER BY v`,
    );
    expect(renderForCluster("CREATE TABLE d.t (v UInt8) ENGINE = MergeTree ORDER BY v", "c")).toBe(
      `CREATE TABLE d.t ON CLUSTER c (v UInt8) ENGINE = ReplicatedMergeTree(${REPLICA_PATH}) ORDER BY v`,
    );
  });

  it("refuses a statement kind it was not taught, a cluster named twice, or a strange name", () => {
    expect(() => renderForCluster("RENAME TABLE d.a TO d.b", "c")).toThrow(
      /teach renderForCluster/,
    );
    expect(() => renderForCluster("ALTER TABLE d.t ON CLUSTER x DROP COLUMN y", "c")).toThrow(
      /names no cluster itself/,
    );
    expect(() => renderForCluster("DROP TABLE d.t", "c; DROP")).toThrow(/plain identifier/);
  });
});

describe("the ledger", () => {
  it("records that each migration was applied to a single server", async () => {
    const rows = await queryRows<{ cluster: string }>(
      clickhouse.client,
      "SELECT DISTINCT cluster FROM switchboard.schema_migrations",
    );
    expect(rows).toEqual([{ cluster: "" }]);
  });

  it("refuses a cluster over tables a single server created, before any DDL", async () => {
    const before = await queryRows<{ name: string }>(
      clickhouse.client,
      "SELECT name FROM system.tables WHERE database = 'switchboard' ORDER BY name",
    );
    await expect(
      migrate(clickhouse.client, MIGRATIONS_DIRECTORY, { cluster: CLUSTER }),
    ).rejects.toThrow(/applied to a single server, but cluster switchboard is configured now/);
    const after = await queryRows<{ name: string }>(
      clickhouse.client,
      "SELECT name FROM system.tables WHERE database = 'switchboard' ORDER BY name",
    );
    expect(after).toEqual(before);
  });
});

describe("clickhouse_cluster in the config", () => {
  it("is read from CLICKHOUSE_CLUSTER, and needs a server", () => {
    const config = loadConfig("config/switchboard.yaml", {
      CLICKHOUSE_CLUSTER: CLUSTER,
      CLICKHOUSE_URL: "http://clickhouse-01:8123",
    });
    expect(config.clickhouse_cluster).toBe(CLUSTER);
    expect(() => loadConfig("config/switchboard.yaml", { CLICKHOUSE_CLUSTER: CLUSTER })).toThrow(
      /clickhouse_cluster: a cluster needs clickhouse_url/,
    );
    expect(() =>
      loadConfig("config/switchboard.yaml", {
        CLICKHOUSE_CLUSTER: "two words",
        CLICKHOUSE_URL: "http://clickhouse-01:8123",
      }),
    ).toThrow(/clickhouse_cluster/);
  });
});
