import { pino } from "pino";
import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import type { EventSource, LogRecord } from "../eventlog/ports.ts";
import { parseDecimal } from "../events/money.ts";
import type { BudgetAlerted, SwitchboardEvent } from "../events/schemas.ts";
import { topicFor } from "../events/topics.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { sampleRequestCompleted } from "../test/fixtures/sample-events.ts";
import { Budgets } from "./budgets.ts";
import { budgetConfig } from "./config.ts";
import { fleetSpendHandler, OwnEvents, startSharedBudgets } from "./fleet-spend.ts";

// Shared spend without a broker: records as the event log hands them over,
// through the handler the gateway's follower runs.

const logger = pino({ level: "silent" });
const NOW = Date.parse("2026-12-06T12:00:00.000Z");
const signal = new AbortController().signal;
const teamDaily = budgetConfig.parse({
  id: "research-daily",
  scope: "team",
  scope_id: "research",
  unit: "usd",
  period: "day",
  soft_limit: "0.5",
  hard_limit: "1",
});

let offset = 0;
function logRecord(event: Record<string, unknown>): LogRecord {
  offset += 1;
  return {
    topic: topicFor(event.event_type as "request_completed"),
    partition: 0,
    offset: String(offset),
    key: null,
    value: Buffer.from(JSON.stringify(event)),
  };
}

function completion(costUsd: string, overrides: Record<string, unknown> = {}) {
  return {
    ...sampleRequestCompleted(),
    occurred_at: "2026-12-06T11:00:00.000Z",
    key_id: "someone",
    team: "research",
    cost_usd: costUsd,
    ...overrides,
  } as Record<string, unknown>;
}

function setUp() {
  const recording = new RecordingSink();
  const own = new OwnEvents();
  const sink = own.tracking(recording);
  const budgets = new Budgets([teamDaily], sink, () => NOW);
  const state = budgets.all[0];
  if (state === undefined) throw new Error("no budget");
  const handle = fleetSpendHandler(budgets, own, logger);
  const alerts = () =>
    recording.events.filter(
      (event): event is BudgetAlerted => event.event_type === "budget_alerted",
    );
  return { recording, own, sink, budgets, state, handle, alerts };
}

describe("fleet spend", () => {
  it("adds the other replicas' completions to the team's budget and refuses at the hard limit", async () => {
    const { budgets, state, handle } = setUp();
    await handle([logRecord(completion("0.4")), logRecord(completion("0.59"))], { signal });
    expect(state.spent).toBe(parseDecimal("0.99"));
    expect(() => budgets.check([state])).not.toThrow();
    await handle([logRecord(completion("0.01"))], { signal });
    expect(() => budgets.check([state])).toThrow(/hard limit/);
  });

  it("skips this replica's own completions, which it counted when they happened", async () => {
    const { sink, budgets, state, handle } = setUp();
    const mine = completion("0.3") as unknown as SwitchboardEvent;
    sink.publish(mine);
    budgets.record(
      [state],
      { costScaled: parseDecimal("0.3"), tokens: 0 },
      {
        tenantId: "t",
        requestId: "r",
      },
    );
    await handle([logRecord(mine as unknown as Record<string, unknown>)], { signal });
    expect(state.spent).toBe(parseDecimal("0.3"));
    // A second copy (the outbox may send a batch twice) is counted: a limit is reached early, never late.
    await handle([logRecord(mine as unknown as Record<string, unknown>)], { signal });
    expect(state.spent).toBe(parseDecimal("0.6"));
  });

  it("leaves out completions of another period, another team, and what is not an event", async () => {
    const { state, handle } = setUp();
    await handle(
      [
        logRecord(completion("0.2", { occurred_at: "2026-12-05T23:59:59.999Z" })),
        logRecord(completion("0.2", { team: "sales" })),
        {
          topic: topicFor("request_completed"),
          partition: 0,
          offset: "0",
          key: null,
          value: Buffer.from("{not json"),
        },
      ],
      { signal },
    );
    expect(state.spent).toBe(0n);
  });

  it("publishes an alert the fleet's spend crosses, unless the fleet's own alert is in the same batch", async () => {
    const first = setUp();
    await first.handle([logRecord(completion("0.6"))], { signal });
    expect(first.alerts().map((alert) => alert.level)).toEqual(["soft"]);

    const second = setUp();
    const crossing = completion("0.6");
    const fleetAlert = {
      ...first.alerts()[0],
      request_id: crossing.request_id,
    } as Record<string, unknown>;
    // The alert comes after the completion in the log; it is read first.
    await second.handle([logRecord(crossing), logRecord(fleetAlert)], { signal });
    expect(second.state.spent).toBe(parseDecimal("0.6"));
    expect(second.alerts()).toEqual([]);
  });

  it("follows through the source it is given, and reports its lag", async () => {
    let handler: Parameters<EventSource["start"]>[0] | undefined;
    const source: EventSource = {
      start: (given) => {
        handler = given;
        return new Promise(() => {});
      },
      close: async () => {},
      lag: async () => [
        { topic: "a", partition: 0, lag: 2 },
        { topic: "a", partition: 1, lag: 3 },
      ],
    };
    const metrics = new Registry();
    const seeded: string[] = [];
    const shared = await startSharedBudgets({
      configs: [teamDaily],
      sink: new RecordingSink(),
      eventLog: {
        openFollower: async (topics, options) => {
          // Opened before the seed: ingest's commits are read first.
          expect(seeded).toEqual([]);
          expect(options.after).toBe("switchboard-ingest");
          expect(topics).toEqual([topicFor("request_completed"), topicFor("budget_alerted")]);
          return source;
        },
      },
      after: "switchboard-ingest",
      seed: async () => {
        seeded.push("seeded");
      },
      logger,
      metrics,
      clock: () => NOW,
    });
    expect(seeded).toEqual(["seeded"]);
    await handler?.([logRecord(completion("0.25"))], { signal });
    expect(shared.budgets.all[0]?.spent).toBe(parseDecimal("0.25"));
    expect(await shared.lag()).toBe(5);
    expect(await metrics.metrics()).toMatch(/^switchboard_gateway_fleet_lag_events 5$/m);
  });

  it("starts on its own spend when the log cannot be followed, and follows it once it can", async () => {
    let attempts = 0;
    let handler: Parameters<EventSource["start"]>[0] | undefined;
    let closed = false;
    const shared = await startSharedBudgets({
      configs: [teamDaily],
      sink: new RecordingSink(),
      eventLog: {
        openFollower: async () => {
          attempts += 1;
          if (attempts < 3) throw new Error("kafka is down");
          return {
            start: (given) => {
              handler = given;
              return new Promise(() => {});
            },
            close: async () => {
              closed = true;
            },
            lag: async () => [{ topic: "a", partition: 0, lag: 1 }],
          };
        },
      },
      after: "switchboard-ingest",
      seed: async () => {},
      logger,
      clock: () => NOW,
      retryMilliseconds: 10,
    });
    expect(await shared.lag()).toBe(0);
    const deadline = Date.now() + 5_000;
    while (handler === undefined) {
      if (Date.now() > deadline) throw new Error("never followed");
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(attempts).toBe(3);
    await handler([logRecord(completion("0.25"))], { signal });
    expect(shared.budgets.all[0]?.spent).toBe(parseDecimal("0.25"));
    expect(await shared.lag()).toBe(1);
    await shared.close();
    expect(closed).toBe(true);
  });

  it("stops retrying when closed before the log could be followed", async () => {
    let attempts = 0;
    const shared = await startSharedBudgets({
      configs: [teamDaily],
      sink: new RecordingSink(),
      eventLog: {
        openFollower: async () => {
          attempts += 1;
          throw new Error("kafka is down");
        },
      },
      after: "switchboard-ingest",
      seed: async () => {},
      logger,
      retryMilliseconds: 60_000,
    });
    await shared.close();
    expect(attempts).toBe(1);
  });
});
