import type { ClickHouseClient } from "../../clickhouse/client.ts";

/** A ClickHouse error as the client reports one, with the code ingest reads. */
export class InjectedClickHouseError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ClickHouseError";
  }
}

export interface FailingInserts {
  client: ClickHouseClient;
  /** Inserts refused so far. */
  readonly refused: number;
  /** Inserts that went through. */
  readonly passed: number;
  /** Refuse the next `count` inserts (into `table` only, when given). */
  failNext(count: number, table?: string): void;
}

/**
 * The real client with a fault at its boundary: `insert` throws (as a
 * connection refused would) while failures are armed, and passes through to
 * the engine otherwise. Queries are untouched, so lookups see the real data.
 */
export function failingInserts(real: ClickHouseClient): FailingInserts {
  let armed = 0;
  let onlyTable: string | undefined;
  let refused = 0;
  let passed = 0;
  const client = new Proxy(real, {
    get(target, property, receiver) {
      if (property !== "insert") return Reflect.get(target, property, receiver);
      return async (parameters: Parameters<ClickHouseClient["insert"]>[0]) => {
        const table = String(parameters.table).split(" ")[0];
        if (armed > 0 && (onlyTable === undefined || table === onlyTable)) {
          armed -= 1;
          refused += 1;
          throw new InjectedClickHouseError(
            "210",
            `injected: connection refused (insert into ${table})`,
          );
        }
        passed += 1;
        return target.insert(parameters);
      };
    },
  });
  return {
    client,
    get refused() {
      return refused;
    },
    get passed() {
      return passed;
    },
    failNext(count, table) {
      armed = count;
      onlyTable = table;
    },
  };
}
