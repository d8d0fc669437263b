import { describe, expect, it } from "vitest";
import { parseDecimal } from "../events/money.ts";
import type { BudgetAlerted } from "../events/schemas.ts";
import { RecordingSink } from "../test/fixtures/recording-sink.ts";
import { type BudgetState, Budgets, periodBounds } from "./budgets.ts";
import { budgetConfig } from "./config.ts";
import { GatewayError } from "./errors.ts";

const at = (iso: string) => Date.parse(iso);
const usd = (amount: string) => ({ costScaled: parseDecimal(amount), tokens: 0 });
const tokens = (count: number) => ({ costScaled: 0n, tokens: count });
const request = (id: string) => ({ tenantId: "acme", requestId: id });

function setUp(budgets: unknown[], start: string) {
  const clock = { now: at(start) };
  const sink = new RecordingSink();
  const book = new Budgets(
    budgets.map((each) => budgetConfig.parse(each)),
    sink,
    () => clock.now,
  );
  const alerts = () => sink.events as BudgetAlerted[];
  return { clock, book, alerts };
}

function refusal(book: Budgets, states: readonly BudgetState[]): GatewayError {
  try {
    book.check(states);
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error("the budget did not refuse");
}

describe("periodBounds", () => {
  it.each([
    ["day", "2026-11-20T23:59:59.999Z", "2026-11-20T00:00:00.000Z", "2026-11-21T00:00:00.000Z"],
    ["day", "2026-12-31T12:00:00.000Z", "2026-12-31T00:00:00.000Z", "2027-01-01T00:00:00.000Z"],
    ["month", "2026-02-14T08:00:00.000Z", "2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z"],
    ["month", "2028-02-29T23:59:59.999Z", "2028-02-01T00:00:00.000Z", "2028-03-01T00:00:00.000Z"],
    ["month", "2026-04-30T10:00:00.000Z", "2026-04-01T00:00:00.000Z", "2026-05-01T00:00:00.000Z"],
    ["month", "2026-12-31T23:59:59.999Z", "2026-12-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"],
  ] as const)("%s of %s is [%s, %s)", (period, when, start, end) => {
    expect(periodBounds(period, at(when))).toEqual({ start: at(start), end: at(end) });
  });
});

describe("budgets", () => {
  const dailyUsd = {
    id: "k1-daily",
    scope: "key",
    scope_id: "k1",
    unit: "usd",
    period: "day",
    soft_limit: "0.001",
    hard_limit: "0.002",
  };

  it("alerts soft exactly at the soft limit, once, and refuses exactly at the hard limit", () => {
    const { clock, book, alerts } = setUp([dailyUsd], "2026-11-20T09:00:00.000Z");
    const states = book.forKey({ id: "k1" });
    book.record(states, usd("0.0005"), request("r1"));
    expect(alerts()).toEqual([]);
    book.record(states, usd("0.0005"), request("r2")); // 0.001: at the soft limit
    expect(alerts()).toMatchObject([
      {
        event_type: "budget_alerted",
        request_id: "r2",
        tenant_id: "acme",
        budget_id: "k1-daily",
        scope: "key",
        scope_id: "k1",
        unit: "usd",
        period: "day",
        period_start: "2026-11-20T00:00:00.000Z",
        threshold: "0.001",
        spent: "0.001",
        level: "soft",
      },
    ]);
    book.record(states, usd("0.000999999999999999"), request("r3")); // one atto-dollar under hard
    expect(alerts()).toHaveLength(1);
    expect(() => book.check(states)).not.toThrow();

    book.record(states, usd("0.000000000000000001"), request("r4")); // exactly 0.002
    expect(alerts().at(-1)).toMatchObject({
      level: "hard",
      request_id: "r4",
      threshold: "0.002",
      spent: "0.002",
    });
    clock.now = at("2026-11-20T23:59:59.000Z");
    const error = refusal(book, states);
    expect(error.code).toBe("budget_exceeded");
    expect(error.status).toBe(429);
    expect(error.retryAfterSeconds).toBe(1);
    expect(error.message).toContain("resets at 2026-11-21T00:00:00.000Z");
    expect(error.message).toContain("0.002 USD");

    book.record(states, usd("1"), request("r5")); // in-flight spend landing later: no new alert
    expect(alerts()).toHaveLength(2);
  });

  it("starts again at the next UTC day, alerts included", () => {
    const { clock, book, alerts } = setUp([dailyUsd], "2026-11-20T09:00:00.000Z");
    const states = book.forKey({ id: "k1" });
    book.record(states, usd("0.002"), request("r1"));
    expect(alerts().map((alert) => alert.level)).toEqual(["soft", "hard"]);
    clock.now = at("2026-11-20T23:59:59.999Z");
    expect(refusal(book, states).retryAfterSeconds).toBe(1);
    clock.now = at("2026-11-21T00:00:00.000Z");
    expect(() => book.check(states)).not.toThrow();
    book.record(states, usd("0.001"), request("r2"));
    expect(alerts().at(-1)).toMatchObject({
      level: "soft",
      period_start: "2026-11-21T00:00:00.000Z",
      spent: "0.001",
    });
  });

  it("resets a monthly budget at the first of the next month, whatever the month's length", () => {
    const monthly = { ...dailyUsd, id: "k1-monthly", period: "month", soft_limit: undefined };
    const { clock, book } = setUp([monthly], "2026-02-03T00:00:00.000Z");
    const states = book.forKey({ id: "k1" });
    book.record(states, usd("0.002"), request("r1"));
    clock.now = at("2026-02-28T23:00:00.000Z"); // February 2026 has 28 days
    const error = refusal(book, states);
    expect(error.message).toContain("month starting 2026-02-01T00:00:00.000Z");
    expect(error.message).toContain("resets at 2026-03-01T00:00:00.000Z");
    expect(error.retryAfterSeconds).toBe(3600);
    clock.now = at("2026-03-01T00:00:00.000Z");
    expect(() => book.check(states)).not.toThrow();
  });

  it("shares a team budget between the team's keys, in tokens", () => {
    const { book, alerts } = setUp(
      [
        {
          id: "research-tokens",
          scope: "team",
          scope_id: "research",
          unit: "tokens",
          period: "month",
          soft_limit: "800",
          hard_limit: "1000",
        },
      ],
      "2026-11-20T09:00:00.000Z",
    );
    const alice = book.forKey({ id: "alice", team: "research" });
    const bob = book.forKey({ id: "bob", team: "research" });
    const carol = book.forKey({ id: "carol", team: "sales" });
    expect(alice[0]).toBe(bob[0]);
    expect(carol).toEqual([]);
    book.record(alice, tokens(600), request("r1"));
    book.record(bob, tokens(200), request("r2")); // 800: soft, at bob's request
    expect(alerts()).toMatchObject([{ level: "soft", request_id: "r2", spent: "800" }]);
    book.record(bob, tokens(199), request("r3"));
    expect(() => book.check(alice)).not.toThrow();
    book.record(bob, tokens(1), request("r4")); // 1000
    expect(alerts().at(-1)).toMatchObject({
      level: "hard",
      unit: "tokens",
      threshold: "1000",
      spent: "1000",
      scope: "team",
      scope_id: "research",
    });
    expect(refusal(book, alice).message).toContain("1000 tokens");
    expect(refusal(book, bob).code).toBe("budget_exceeded");
    expect(() => book.check(carol)).not.toThrow();
  });

  it("counts a key's own budget and its team's together", () => {
    const { book } = setUp(
      [
        { ...dailyUsd, scope_id: "alice" },
        { ...dailyUsd, id: "team", scope: "team", scope_id: "research", hard_limit: "0.01" },
      ],
      "2026-11-20T09:00:00.000Z",
    );
    const alice = book.forKey({ id: "alice", team: "research" });
    const bob = book.forKey({ id: "bob", team: "research" });
    expect(alice.map((state) => state.config.id)).toEqual(["k1-daily", "team"]);
    book.record(alice, usd("0.002"), request("r1"));
    expect(refusal(book, alice).message).toContain('Budget "k1-daily"');
    expect(() => book.check(bob)).not.toThrow();
  });

  it("takes a seed as spend already alerted on, and ignores a seed of another period", () => {
    const { book, alerts } = setUp([dailyUsd], "2026-11-20T09:00:00.000Z");
    const states = book.forKey({ id: "k1" });
    const rows = [
      { keyId: "k1", team: "", costScaled: parseDecimal("0.0012"), tokens: 10n },
      { keyId: "k2", team: "", costScaled: parseDecimal("5"), tokens: 10n },
    ];
    book.seed("day", at("2026-11-19T00:00:00.000Z"), rows);
    expect(states[0]?.spent).toBe(0n);
    book.seed("day", at("2026-11-20T00:00:00.000Z"), rows);
    expect(states[0]?.spent).toBe(parseDecimal("0.0012"));
    book.record(states, usd("0.0008"), request("r1")); // 0.002: only the hard alert is new
    expect(alerts().map((alert) => alert.level)).toEqual(["hard"]);
  });

  it("refuses a budget with neither limit, and fractional tokens", () => {
    expect(
      budgetConfig.safeParse({ ...dailyUsd, soft_limit: undefined, hard_limit: undefined }).success,
    ).toBe(false);
    expect(budgetConfig.safeParse({ ...dailyUsd, unit: "tokens", hard_limit: "1.5" }).success).toBe(
      false,
    );
    expect(budgetConfig.safeParse({ ...dailyUsd, period: "week" }).success).toBe(false);
  });
});
