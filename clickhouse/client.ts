import { type ClickHouseClient, type ClickHouseSettings, createClient } from "@clickhouse/client";
import { Session } from "chdb";
import { createChdbConnection } from "chdb/connection";

export type { ClickHouseClient } from "@clickhouse/client";

type ClientOptions = NonNullable<Parameters<typeof createClient>[0]>;

export const DEFAULT_CHDB_PATH = "./data/clickhouse";

// Settings every statement relies on, so a server and the embedded engine
// answer alike. On chDB they are pinned at client level (per-query settings
// leak there, trap 1); over HTTP each request carries them, so one a server
// does not know can be left out (below).
const CONSTANT_SETTINGS: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 1,
  output_format_json_quote_decimals: 1,
  date_time_input_format: "best_effort",
  input_format_skip_unknown_fields: 0,
  async_insert: 0,
  wait_end_of_query: 1,
};

/** Where a dropped setting is reported: pino's `warn` fits. */
export interface SettingsLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface ClickHouseOptions {
  /** Told once per setting the server did not know and that is left out from then on. */
  logger?: SettingsLogger;
}

/**
 * The arguments the embedded engine starts with. `memory_worker_use_cgroup=0`:
 * ClickHouse's memory worker otherwise reads the process's cgroup memory
 * files, and where a container or sandbox has none it can read (cgroup v2
 * without the memory controller, a cgroup path not mounted) chDB prints
 * "Cannot use cgroups reader" and a 20-line stack trace on stderr at every
 * start. Without it the worker watches the process's own memory, which for an
 * engine inside the Node process is the right thing to watch; the engine's
 * memory limit is unchanged (max_server_memory_usage is the same either way).
 */
export const CHDB_ENGINE_ARGUMENTS = ["--memory_worker_use_cgroup=0"];

const STDERR_LOGGER: SettingsLogger = {
  warn: (fields, message) => console.warn(message, JSON.stringify(fields)),
};

/**
 * The one way to reach ClickHouse. `http(s)://…` is a server; unset or
 * `chdb:<dir>` is the embedded chDB engine with its data in <dir>.
 * Only one process may open a chDB directory at a time.
 *
 * A server older than the code (it answers UNKNOWN_SETTING, code 115) does
 * not fail the statement: the setting is removed — from the statement's
 * SETTINGS clauses, the insert's table string and the request's settings —
 * the statement is sent again, and the setting stays left out of every later
 * statement, with one warning. The settings the code sends change how an
 * answer is produced (Arrow writer, compression), not what it says.
 */
export function createClickHouse(
  url = `chdb:${DEFAULT_CHDB_PATH}`,
  options: ClickHouseOptions = {},
): ClickHouseClient {
  const logger = options.logger ?? STDERR_LOGGER;
  if (/^https?:\/\//.test(url)) {
    const client = createClient({ url, request_timeout: 60_000 });
    return tolerateUnknownSettings(client, CONSTANT_SETTINGS, logger);
  }
  const path = url.startsWith("chdb:") ? url.slice("chdb:".length) : url;
  if (!path) throw new Error(`CLICKHOUSE_URL "${url}" names no chDB directory`);
  // createChdbConnection takes no engine arguments, and the engine of a data
  // directory keeps those of the first connection to it: a session opened with
  // ours first starts it, and is closed once the client's connection holds it.
  const starter = new Session(path, { connectionArgs: CHDB_ENGINE_ARGUMENTS });
  let connection: ClientOptions["connection"];
  try {
    // chdb bundles its own copy of @clickhouse/client-common's types; the
    // runtime contract is the same, so the cast only bridges the two copies.
    connection = createChdbConnection({ path }) as unknown as ClientOptions["connection"];
  } finally {
    starter.close();
  }
  const client = createClient({ connection, clickhouse_settings: CONSTANT_SETTINGS });
  return tolerateUnknownSettings(client, {}, logger);
}

export function isEmbedded(url: string): boolean {
  return !/^https?:\/\//.test(url);
}

const UNKNOWN_SETTING_CODE = "115";

/**
 * The setting an UNKNOWN_SETTING error names: "Unknown setting 'x'" (recent
 * servers) or "Setting x is neither a builtin setting nor …" (older ones).
 */
export function unknownSettingOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  if (String(code) !== UNKNOWN_SETTING_CODE || typeof message !== "string") return undefined;
  const match =
    /Unknown setting '?([A-Za-z0-9_]+)'?/.exec(message) ??
    /Setting ([A-Za-z0-9_]+) is neither a builtin setting/.exec(message);
  return match?.[1];
}

type Statement = {
  query?: string;
  table?: string;
  values?: unknown;
  clickhouse_settings?: ClickHouseSettings;
};

/**
 * Wraps query, command, exec and insert: known-unknown settings are removed
 * before sending, and a statement refused for a new one is sent once more
 * without it. Nothing ran when a server refused a setting, so sending again
 * is safe; an insert or exec whose body is a stream cannot be sent twice and
 * fails as it came (the setting is still left out from then on).
 */
function tolerateUnknownSettings(
  client: ClickHouseClient,
  perRequestSettings: ClickHouseSettings,
  logger: SettingsLogger,
): ClickHouseClient {
  const dropped = new Set<string>();

  const prepare = <P extends Statement>(params: P): P => {
    const prepared: P = { ...params };
    if (params.clickhouse_settings !== undefined || Object.keys(perRequestSettings).length > 0) {
      const settings = { ...perRequestSettings, ...params.clickhouse_settings };
      for (const name of dropped) delete settings[name as keyof ClickHouseSettings];
      prepared.clickhouse_settings = settings;
    }
    if (typeof params.query === "string") prepared.query = withoutSettings(params.query, dropped);
    if (typeof params.table === "string") prepared.table = withoutSettings(params.table, dropped);
    return prepared;
  };

  const resendable = (params: Statement) =>
    params.values === undefined || Array.isArray(params.values);

  const tolerant =
    <P extends Statement, R>(send: (params: P) => Promise<R>) =>
    async (params: P): Promise<R> => {
      for (;;) {
        try {
          return await send(prepare(params));
        } catch (error) {
          const setting = unknownSettingOf(error);
          if (setting === undefined || dropped.has(setting)) throw error;
          dropped.add(setting);
          logger.warn(
            { setting, server_error: (error as Error).message },
            `the ClickHouse server does not know the setting ${setting}; it is left out of this and every later statement (upgrade the server to have it)`,
          );
          if (!resendable(params)) throw error;
        }
      }
    };

  const wrapped: Record<string, unknown> = {
    query: tolerant(client.query.bind(client) as (params: Statement) => Promise<unknown>),
    command: tolerant(client.command.bind(client) as (params: Statement) => Promise<unknown>),
    exec: tolerant(client.exec.bind(client) as (params: Statement) => Promise<unknown>),
    insert: tolerant(client.insert.bind(client) as (params: Statement) => Promise<unknown>),
  };
  return new Proxy(client, {
    get(target, property, receiver) {
      if (typeof property === "string" && property in wrapped) return wrapped[property];
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * `sql` with every `name = value` of `names` taken out of its SETTINGS
 * clauses, and a clause left empty taken out whole. Quoted text is skipped
 * when looking for the keyword, so a string literal is never touched.
 */
export function withoutSettings(sql: string, names: ReadonlySet<string>): string {
  if (names.size === 0) return sql;
  let result = "";
  let position = 0;
  while (position < sql.length) {
    const keyword = nextSettingsKeyword(sql, position);
    if (keyword === -1) break;
    const list = readSettingsList(sql, keyword + "SETTINGS".length);
    result += sql.slice(position, keyword);
    const kept = list.assignments.filter((assignment) => !names.has(assignment.name));
    if (kept.length === list.assignments.length) {
      result += sql.slice(keyword, list.end);
    } else if (kept.length > 0) {
      result += `SETTINGS ${kept.map((assignment) => assignment.text).join(", ")}`;
    } else {
      // The whitespace before the keyword would be left dangling.
      result = result.replace(/\s+$/, "");
    }
    position = list.end;
  }
  return result + sql.slice(position);
}

/** The index of the next SETTINGS keyword outside quotes, or -1. */
function nextSettingsKeyword(sql: string, from: number): number {
  for (let index = from; index < sql.length; index += 1) {
    const character = sql[index] as string;
    if (character === "'" || character === '"' || character === "`") {
      index = endOfQuoted(sql, index) - 1;
      continue;
    }
    if (
      (character === "S" || character === "s") &&
      sql.slice(index, index + 8).toUpperCase() === "SETTINGS" &&
      !/[A-Za-z0-9_]/.test(sql[index - 1] ?? " ") &&
      /\s/.test(sql[index + 8] ?? "")
    ) {
      return index;
    }
  }
  return -1;
}

/** The index just past the quoted text that starts at `start`. */
function endOfQuoted(sql: string, start: number): number {
  const quote = sql[start];
  for (let index = start + 1; index < sql.length; index += 1) {
    if (sql[index] === "\\") index += 1;
    else if (sql[index] === quote && sql[index + 1] === quote) index += 1;
    else if (sql[index] === quote) return index + 1;
  }
  return sql.length;
}

/** `name = value, …` from `from`; `end` is where the list stops (before trailing blanks). */
function readSettingsList(
  sql: string,
  from: number,
): { assignments: { name: string; text: string }[]; end: number } {
  const assignments: { name: string; text: string }[] = [];
  const assignment = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*/y;
  let position = from;
  let end = from;
  for (;;) {
    assignment.lastIndex = position;
    const match = assignment.exec(sql);
    if (!match) break;
    const valueStart = assignment.lastIndex;
    const valueEnd =
      sql[valueStart] === "'" ? endOfQuoted(sql, valueStart) : endOfBareValue(sql, valueStart);
    if (valueEnd === valueStart) break;
    assignments.push({
      name: match[1] as string,
      text: `${match[1]} = ${sql.slice(valueStart, valueEnd)}`,
    });
    end = valueEnd;
    const comma = /\s*,/y;
    comma.lastIndex = valueEnd;
    if (!comma.test(sql)) break;
    position = comma.lastIndex;
  }
  return { assignments, end };
}

function endOfBareValue(sql: string, start: number): number {
  const match = /[^\s,;()]+/y;
  match.lastIndex = start;
  return match.test(sql) ? match.lastIndex : start;
}
