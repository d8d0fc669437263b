import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { analyticsTokenConfig } from "../analytics/access.ts";
import { sloConfig } from "../analytics/slo.ts";
import { gatewayConfig } from "../gateway/config.ts";

export const DEFAULT_CONFIG_PATH = "config/switchboard.yaml";

const listener = (port: number) =>
  z.object({
    host: z.string().default("127.0.0.1"),
    port: z.number().int().min(0).max(65535).default(port),
  });

export const switchboardConfig = z.object({
  data_dir: z.string().default("./data").describe("embedded mode's event log and chDB data"),
  log_level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  clickhouse_url: z
    .string()
    .optional()
    .describe("http(s)://user:password@host:8123 for a server; unset or chdb:<dir> for embedded"),
  clickhouse_cluster: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "a cluster name from the servers' remote_servers")
    .optional()
    .describe(
      "the ClickHouse cluster (one shard, its replicas) that migrations render Replicated*MergeTree and ON CLUSTER for; unset = one server; needs clickhouse_url to name a server",
    ),
  kafka_brokers: z.string().optional().describe("comma list host:port; unset = local segment log"),
  kafka_partitions: z.number().int().positive().default(3),
  kafka_replication_factor: z
    .number()
    .int()
    .positive()
    .default(1)
    .describe("replicas of each topic Switchboard creates: 1 for one broker, 3 on a cluster"),
  allow_public_demo_credentials: z
    .boolean()
    .default(false)
    .describe(
      "start even though a listener on a non-loopback address accepts a demo credential (loudly warned)",
    ),
  gateway: gatewayConfig,
  analytics: listener(8081)
    .extend({
      tokens: z
        .array(analyticsTokenConfig)
        .default([])
        .describe(
          "analytics bearer tokens: {id, sha256, tenants: [..]} or {id, sha256, admin: true}",
        ),
      slo: sloConfig
        .prefault({})
        .describe(
          "service-level targets the vendor brief reads: default {availability, ttft_p95_ms, error_rate} and targets [{vendor, model?, task?, …}]",
        ),
    })
    .prefault({}),
  simulator: listener(8090).default({ host: "127.0.0.1", port: 8090 }),
  ingest: z
    .object({
      // Below ClickHouse's max_insert_block_size (1,048,449), so an insert is one block,
      // parsed whole before anything is written (ingest/table-insert.ts relies on it).
      max_batch_events: z.number().int().min(1).max(1_000_000).default(20_000),
      max_batch_bytes: z
        .number()
        .int()
        .min(64 * 1024)
        .max(512 * 1024 * 1024)
        .default(16 * 1024 * 1024),
      max_batch_wait_ms: z.number().int().min(0).max(60_000).default(500),
      metrics_host: z.string().default("127.0.0.1"),
      metrics_port: z.number().int().min(0).max(65535).default(9464),
    })
    .prefault({})
    .describe("batching of event log → ClickHouse, and the ingest role's /metrics listener"),
  outbox: z
    .object({
      max_bytes: z
        .number()
        .int()
        .min(1024 * 1024)
        .default(1024 * 1024 * 1024),
      memory_events: z.number().int().min(1_000).default(100_000),
      send_timeout_ms: z.number().int().min(100).max(600_000).default(5_000),
    })
    .prefault({})
    .describe("the gateway's disk outbox under <data_dir>/outbox while Kafka is unreachable"),
});

export type SwitchboardConfig = z.infer<typeof switchboardConfig>;

/** Environment variables that override the file, for addresses and secrets. */
const ENVIRONMENT_OVERRIDES: [string, (config: Record<string, unknown>, value: string) => void][] =
  [
    ["SWITCHBOARD_DATA_DIR", (config, value) => (config.data_dir = value)],
    ["LOG_LEVEL", (config, value) => (config.log_level = value)],
    ["CLICKHOUSE_URL", (config, value) => (config.clickhouse_url = value)],
    ["CLICKHOUSE_CLUSTER", (config, value) => (config.clickhouse_cluster = value)],
    ["KAFKA_BROKERS", (config, value) => (config.kafka_brokers = value)],
    [
      "KAFKA_REPLICATION_FACTOR",
      (config, value) => (config.kafka_replication_factor = Number(value)),
    ],
    [
      "SWITCHBOARD_ALLOW_PUBLIC_DEMO_CREDENTIALS",
      // Anything but true or false stays a string, which validation then refuses by name.
      (config, value) =>
        (config.allow_public_demo_credentials =
          value === "true" ? true : value === "false" ? false : value),
    ],
    ["GATEWAY_HOST", (config, value) => (section(config, "gateway").host = value)],
    ["GATEWAY_PORT", (config, value) => (section(config, "gateway").port = Number(value))],
    ["ANALYTICS_HOST", (config, value) => (section(config, "analytics").host = value)],
    ["ANALYTICS_PORT", (config, value) => (section(config, "analytics").port = Number(value))],
    ["SIMULATOR_HOST", (config, value) => (section(config, "simulator").host = value)],
    ["SIMULATOR_PORT", (config, value) => (section(config, "simulator").port = Number(value))],
    ["INGEST_METRICS_HOST", (config, value) => (section(config, "ingest").metrics_host = value)],
    [
      "INGEST_METRICS_PORT",
      (config, value) => (section(config, "ingest").metrics_port = Number(value)),
    ],
  ];

export const ENVIRONMENT_VARIABLES = ENVIRONMENT_OVERRIDES.map(([name]) => name);

function section(config: Record<string, unknown>, name: string): Record<string, unknown> {
  config[name] ??= {};
  return config[name] as Record<string, unknown>;
}

/**
 * Reads the config file, applies environment overrides, and validates it
 * once. A bad config stops start-up with a message naming the field.
 * Relative paths inside the file resolve against the file's folder.
 */
export function loadConfig(
  path = process.env.SWITCHBOARD_CONFIG ?? DEFAULT_CONFIG_PATH,
  environment: NodeJS.ProcessEnv = process.env,
): SwitchboardConfig {
  if (!existsSync(path)) throw new Error(`config file ${path} not found (set SWITCHBOARD_CONFIG)`);
  const raw = (parseYaml(readFileSync(path, "utf8")) ?? {}) as Record<string, unknown>;
  for (const [name, apply] of ENVIRONMENT_OVERRIDES) {
    const value = environment[name];
    if (value !== undefined && value !== "") apply(raw, value);
  }
  const parsed = switchboardConfig.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `  ${issue.path.join(".")}: ${issue.message}`,
    );
    throw new Error(`invalid config ${path}:\n${problems.join("\n")}`);
  }
  const config = parsed.data;
  if (config.clickhouse_cluster && !/^https?:\/\//.test(config.clickhouse_url ?? "")) {
    throw new Error(
      `invalid config ${path}:\n  clickhouse_cluster: a cluster needs clickhouse_url to name one of its servers (chDB is one process)`,
    );
  }
  config.gateway.price_catalog = resolve(dirname(path), config.gateway.price_catalog);
  return config;
}
