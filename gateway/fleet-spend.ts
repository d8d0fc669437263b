// Shared spend: every gateway of a fleet reads the fleet's request_completed
// and budget_alerted events back from the event log and adds the other
// replicas' spend to its budgets, so a hard limit holds across replicas, not
// per replica. Its own completions it counted when they happened
// (Budgets.record); it knows them by their event ids (OwnEvents) and skips
// them when they come back.
//
// Where it starts: at what ingest has committed (EventLog.openFollower), so
// the ClickHouse seed at start (budget-seed.ts, what ingest has stored) and
// the log after it meet. Events ingest stores between the two readings are
// counted twice, which errs towards refusing early, never late.
//
// The bound that remains on a hard limit, across N replicas: at most the
// spend of the requests in flight when it is reached, plus the spend of the
// completions the replicas have not read back yet (the consumer lag,
// `switchboard_gateway_fleet_lag_events`).
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { Gauge, type Registry } from "prom-client";
import type { EventLog } from "../eventlog/open-event-log.ts";
import type {
  BatchHandler,
  EventSink,
  EventSource,
  LogRecord,
  PartitionLag,
} from "../eventlog/ports.ts";
import { parseDecimal } from "../events/money.ts";
import type { SwitchboardEvent } from "../events/schemas.ts";
import { topicFor } from "../events/topics.ts";
import { Budgets, type Clock } from "./budgets.ts";
import type { BudgetConfig } from "./config.ts";

export const FLEET_SPEND_TOPICS = [topicFor("request_completed"), topicFor("budget_alerted")];
const BUDGET_ALERTED_TOPIC = topicFor("budget_alerted");
/** Own event ids remembered at most; one never read back (dropped by a full outbox) is forgotten oldest first. */
const MOST_OWN_EVENTS = 1_000_000;

/** The ids of the completions and alerts this process published, until it reads them back. */
export class OwnEvents {
  private readonly ids = new Set<string>();

  /** The sink, noting the ids of what it publishes that the fleet's spend reads. */
  tracking(sink: EventSink): EventSink {
    return {
      publish: (event: SwitchboardEvent) => {
        if (event.event_type === "request_completed" || event.event_type === "budget_alerted") {
          if (this.ids.size >= MOST_OWN_EVENTS) {
            const oldest = this.ids.values().next().value;
            if (oldest !== undefined) this.ids.delete(oldest);
          }
          this.ids.add(event.event_id);
        }
        sink.publish(event);
      },
      append: (topic, key, value) => sink.append(topic, key, value),
      flush: () => sink.flush(),
      close: () => sink.close(),
    };
  }

  /** Whether this process published the event; forgets it, since it comes back once. */
  takeBack(eventId: string): boolean {
    return this.ids.delete(eventId);
  }
}

/** The few fields read, leniently: any version of request_completed has them (key_id and team from v2). */
interface FleetRecord {
  event_id?: unknown;
  event_type?: unknown;
  tenant_id?: unknown;
  request_id?: unknown;
  occurred_at?: unknown;
  key_id?: unknown;
  team?: unknown;
  cost_usd?: unknown;
  input_tokens?: unknown;
  output_tokens?: unknown;
  budget_id?: unknown;
  level?: unknown;
  period_start?: unknown;
}

/**
 * The handler the gateway's follower runs. Alerts of a batch are read
 * before its completions: a replica publishes its alert right after the
 * completion that crossed, and reading the alert first keeps this one from
 * publishing the same crossing again.
 */
export function fleetSpendHandler(budgets: Budgets, own: OwnEvents, logger: Logger): BatchHandler {
  return async (records) => {
    const alerts = records.filter((record) => record.topic === BUDGET_ALERTED_TOPIC);
    const completions = records.filter((record) => record.topic !== BUDGET_ALERTED_TOPIC);
    for (const record of [...alerts, ...completions]) {
      const event = parse(record, logger);
      if (event === undefined || typeof event.event_id !== "string") continue;
      if (own.takeBack(event.event_id)) continue;
      try {
        apply(budgets, event);
      } catch (error) {
        logger.warn(
          { err: error, topic: record.topic, offset: record.offset },
          "fleet spend: an event could not be counted; ingest dead-letters what is invalid",
        );
      }
    }
  };
}

function parse(record: LogRecord, logger: Logger): FleetRecord | undefined {
  try {
    const value = JSON.parse(record.value.toString("utf8")) as unknown;
    return typeof value === "object" && value !== null ? (value as FleetRecord) : undefined;
  } catch {
    logger.debug({ topic: record.topic, offset: record.offset }, "fleet spend: not JSON");
    return undefined;
  }
}

function apply(budgets: Budgets, event: FleetRecord): void {
  if (event.event_type === "budget_alerted") {
    if (typeof event.budget_id !== "string" || typeof event.period_start !== "string") return;
    if (event.level !== "soft" && event.level !== "hard") return;
    budgets.fleetAlerted({
      budgetId: event.budget_id,
      level: event.level,
      periodStart: Date.parse(event.period_start),
    });
    return;
  }
  if (event.event_type !== "request_completed" || typeof event.occurred_at !== "string") return;
  budgets.recordFleet({
    keyId: typeof event.key_id === "string" ? event.key_id : null,
    team: typeof event.team === "string" ? event.team : null,
    occurredAt: Date.parse(event.occurred_at),
    spend: {
      costScaled: typeof event.cost_usd === "string" ? parseDecimal(event.cost_usd) : 0n,
      tokens: count(event.input_tokens) + count(event.output_tokens),
    },
    tenantId: typeof event.tenant_id === "string" ? event.tenant_id : "",
    requestId: typeof event.request_id === "string" ? event.request_id : "",
  });
}

function count(value: unknown): number {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0 ? value : 0;
}

/**
 * Budgets shared by the fleet: the sink to give the gateway (it notes this
 * replica's own completions and alerts), the budgets, and `close` for the
 * follower. The order of steps at start, and what each guarantees:
 *  1. the follower is opened at the commits of `after` (ingest's group):
 *     every event not in ClickHouse yet is at or after them;
 *  2. `seed` sets each budget's spend from ClickHouse (what ingest stored,
 *     which includes everything before those commits; events stored between
 *     1 and 2 are counted twice: a limit is reached early, never late);
 *  3. the follower starts: the fleet's spend from the log is added on top.
 * When the log cannot be followed (Kafka down at start), the gateway still
 * starts, counting its own spend only, says so at error level, and opens the
 * follower as soon as it can (retried every `retryMilliseconds`).
 */
export async function startSharedBudgets(options: {
  configs: readonly BudgetConfig[];
  sink: EventSink;
  eventLog: Pick<EventLog, "openFollower">;
  /** The consumer group whose stored events the seed holds: ingest's. */
  after: string;
  seed(budgets: Budgets): Promise<void>;
  logger: Logger;
  metrics?: Registry;
  clock?: Clock;
  /** Wait between attempts to open the follower after it failed at start. Default 5 s. */
  retryMilliseconds?: number;
}): Promise<{
  sink: EventSink;
  budgets: Budgets;
  /** Fleet records not read back yet, summed over partitions (the lag gauge's value); 0 without a follower. */
  lag(): Promise<number>;
  close(): Promise<void>;
}> {
  const { logger } = options;
  const own = new OwnEvents();
  const sink = own.tracking(options.sink);
  const budgets = new Budgets(options.configs, sink, options.clock);
  const openFollower = () =>
    options.eventLog.openFollower(FLEET_SPEND_TOPICS, { after: options.after, name: "gateway" });
  const follow = (opened: EventSource) => {
    followFleetSpend({ source: opened, budgets, own, logger, metrics: options.metrics }).catch(
      (error: unknown) => {
        logger.error(
          { err: error },
          "fleet spend stopped: budgets count only this replica's spend from now on",
        );
      },
    );
  };
  let source: EventSource | undefined;
  try {
    source = await openFollower();
  } catch (error) {
    logger.error(
      { err: error },
      "fleet spend: the event log cannot be followed yet; budgets count only this replica's spend until it can",
    );
  }
  await options.seed(budgets);
  const stopRetrying = new AbortController();
  let retrying: Promise<void> = Promise.resolve();
  if (source !== undefined) {
    follow(source);
  } else {
    // Opened later, it starts at ingest's commits then: the fleet's events
    // ingest stored between the seed and that moment are missed. While Kafka
    // is down nothing is ingested, so prompt retries keep that small.
    retrying = (async () => {
      while (!stopRetrying.signal.aborted) {
        try {
          await sleep(options.retryMilliseconds ?? 5_000, undefined, {
            signal: stopRetrying.signal,
          });
          const opened = await openFollower();
          if (stopRetrying.signal.aborted) {
            await opened.close();
            return;
          }
          source = opened;
          follow(opened);
          logger.info("fleet spend: following the event log now");
          return;
        } catch (error) {
          if (stopRetrying.signal.aborted) return;
          logger.debug({ err: error }, "fleet spend: the event log cannot be followed yet");
        }
      }
    })();
  }
  return {
    sink,
    budgets,
    lag: async () => totalLag((await source?.lag()) ?? []),
    close: async () => {
      stopRetrying.abort();
      await retrying;
      await source?.close();
    },
  };
}

/**
 * Follows the fleet's spend until `source` closes; its lag (records not yet
 * read back, summed over partitions) is exported at scrape time. Resolves
 * and rejects as the source's start does.
 */
export function followFleetSpend(options: {
  source: EventSource;
  budgets: Budgets;
  own: OwnEvents;
  logger: Logger;
  metrics?: Registry;
}): Promise<void> {
  const { source, budgets, own, logger, metrics } = options;
  if (metrics !== undefined) {
    const existing = metrics.getSingleMetric("switchboard_gateway_fleet_lag_events");
    if (existing === undefined) {
      new Gauge({
        name: "switchboard_gateway_fleet_lag_events",
        help: "Fleet completions and budget alerts this gateway has not read back from the event log yet (summed over partitions): with the requests in flight, how far a budget's hard limit can be overshot",
        registers: [metrics],
        async collect() {
          const lags = await source.lag().catch(() => undefined);
          if (lags !== undefined) this.set(totalLag(lags));
        },
      });
    }
  }
  return source.start(fleetSpendHandler(budgets, own, logger));
}

function totalLag(lags: readonly PartitionLag[]): number {
  return lags.reduce((sum, { lag }) => sum + lag, 0);
}
