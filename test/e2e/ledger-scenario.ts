import { setTimeout as sleep } from "node:timers/promises";
import OpenAI from "openai";
import type { ChatCompletionCreateParamsNonStreaming } from "openai/resources/chat/completions";
import { expect } from "vitest";
import { DEMO_ANALYTICS_TOKEN } from "../../analytics/access.ts";
import { formatDecimal, parseDecimal } from "../../events/money.ts";
import { topicFor } from "../../events/topics.ts";
import { usageFor } from "../../simulator/index.ts";
import { queryRows } from "../fixtures/clickhouse.ts";
import { API_KEY, type Stack } from "./stack.ts";

interface Observed {
  vendor: string;
  model: string;
  task: string;
  inputTokens: number;
  outputTokens: number;
  attempts: number;
}

interface PlannedRequest {
  model: "fast" | "flaky" | "limited";
  task: string;
  stream: "no" | "with-usage" | "without-usage";
}

const PLAN: PlannedRequest[] = [
  ...Array.from({ length: 3 }, () => ({ model: "fast", task: "code", stream: "no" }) as const),
  ...Array.from(
    { length: 2 },
    () => ({ model: "fast", task: "general", stream: "with-usage" }) as const,
  ),
  { model: "fast", task: "general", stream: "without-usage" },
  ...Array.from({ length: 2 }, () => ({ model: "flaky", task: "code", stream: "no" }) as const),
  { model: "flaky", task: "code", stream: "with-usage" },
  ...Array.from(
    { length: 2 },
    () => ({ model: "limited", task: "extraction", stream: "no" }) as const,
  ),
];

function header(headers: Headers, name: string): string {
  const value = headers.get(name);
  if (value === null) throw new Error(`missing response header ${name}`);
  return value;
}

async function send(client: OpenAI, planned: PlannedRequest, index: number): Promise<Observed> {
  const body: ChatCompletionCreateParamsNonStreaming = {
    model: planned.model,
    messages: [
      { role: "system", content: "You are terse." },
      { role: "user", content: `Request number ${index}: ${"tell me more ".repeat(index + 1)}` },
    ],
  };
  const options = { headers: { "x-switchboard-task": planned.task } };
  if (planned.stream === "no") {
    const { data, response } = await client.chat.completions.create(body, options).withResponse();
    return {
      vendor: header(response.headers, "x-switchboard-vendor"),
      model: header(response.headers, "x-switchboard-model"),
      task: planned.task,
      inputTokens: data.usage?.prompt_tokens ?? Number.NaN,
      outputTokens: data.usage?.completion_tokens ?? Number.NaN,
      attempts: Number(header(response.headers, "x-switchboard-attempts")),
    };
  }
  const withUsage = planned.stream === "with-usage";
  const { data: stream, response } = await client.chat.completions
    .create(
      { ...body, stream: true, ...(withUsage ? { stream_options: { include_usage: true } } : {}) },
      options,
    )
    .withResponse();
  let usageChunks = 0;
  let inputTokens = Number.NaN;
  let outputTokens = Number.NaN;
  for await (const chunk of stream) {
    if (chunk.usage) {
      usageChunks += 1;
      inputTokens = chunk.usage.prompt_tokens;
      outputTokens = chunk.usage.completion_tokens;
    }
  }
  if (!withUsage) {
    // The client did not ask for usage and must not get it; the ledger still
    // bills what the vendor reported, which the simulator lets us predict.
    expect(usageChunks).toBe(0);
    const predicted = usageFor({ ...body, model: header(response.headers, "x-switchboard-model") });
    inputTokens = predicted.promptTokens;
    outputTokens = predicted.completionTokens;
  } else {
    expect(usageChunks).toBe(1);
  }
  return {
    vendor: header(response.headers, "x-switchboard-vendor"),
    model: header(response.headers, "x-switchboard-model"),
    task: planned.task,
    inputTokens,
    outputTokens,
    attempts: Number(header(response.headers, "x-switchboard-attempts")),
  };
}

interface ExpectedRow {
  vendor: string;
  model: string;
  task: string;
  requests: number;
  succeeded: number;
  failed_attempts: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: string;
}

/**
 * Sends a mix of streamed and non-streamed requests through the gateway with
 * the official openai client, some failing over, plus bad input at each edge;
 * then checks that /v1/matrix equals what the client saw, exactly.
 */
export async function runLedgerScenario(stack: Stack): Promise<void> {
  const client = new OpenAI({ apiKey: API_KEY, baseURL: `${stack.gatewayUrl}/v1`, maxRetries: 0 });

  const listed = new Map<string, { prompt: string; completion: string }>();
  for await (const model of client.models.list()) {
    listed.set(
      model.id,
      (model as unknown as { pricing: { prompt: string; completion: string } }).pricing,
    );
  }

  const observed: Observed[] = [];
  for (const [index, planned] of PLAN.entries()) observed.push(await send(client, planned, index));

  // Bad input at the gateway: each gets OpenAI's error shape, and none is billed.
  const malformed = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${API_KEY}`, "content-type": "application/json" },
    body: '{"model": "fast", "messages": [',
  });
  expect(malformed.status).toBe(400);
  expect(await malformed.json()).toEqual({
    error: {
      message: expect.stringMatching(/JSON/),
      type: "invalid_request_error",
      param: null,
      code: "invalid_request",
    },
  });
  await expect(
    client.chat.completions.create({
      model: "no-such-model",
      messages: [{ role: "user", content: "hi" }],
    }),
  ).rejects.toMatchObject({ status: 404, code: "model_not_found", param: "model" });
  await expect(
    client.chat.completions.create({
      model: "fast",
      messages: [{ role: "wizard" as "user", content: "hi" }],
    }),
  ).rejects.toMatchObject({ status: 400, code: "invalid_request", param: "messages[0].role" });
  const stranger = new OpenAI({
    apiKey: "sk-wrong",
    baseURL: `${stack.gatewayUrl}/v1`,
    maxRetries: 0,
  });
  await expect(stranger.models.list()).resolves.toBeDefined();
  await expect(
    stranger.chat.completions.create({
      model: "fast",
      messages: [{ role: "user", content: "hi" }],
    }),
  ).rejects.toMatchObject({ status: 401, code: "invalid_api_key" });

  // A malformed event on the topic goes to the dead letters, and loses nothing else.
  stack.sink.append(
    topicFor("request_completed"),
    "poison",
    '{"event_type":"request_completed","oops":',
  );

  const expected = expectedMatrix(observed, listed);
  const totalRequests = PLAN.length;
  const totalFailedAttempts = expected.reduce((sum, row) => sum + row.failed_attempts, 0);
  const rows = await waitForMatrix(stack, totalRequests, totalFailedAttempts);
  expect(
    rows
      .map(
        ({
          vendor,
          model,
          task,
          requests,
          succeeded,
          failed_attempts,
          input_tokens,
          output_tokens,
          cost_usd,
        }) => ({
          vendor,
          model,
          task,
          requests,
          succeeded,
          failed_attempts,
          input_tokens,
          output_tokens,
          cost_usd,
        }),
      )
      .sort(byKey),
  ).toEqual(expected.sort(byKey));

  const deadLetters = await waitFor(async () => {
    const found = await queryRows<{ reason: string; payload: string }>(
      stack.clickhouse.client,
      "SELECT reason, payload FROM switchboard.dead_letters FINAL",
    );
    return found.length > 0 ? found : null;
  });
  expect(deadLetters).toEqual([
    {
      reason: expect.stringMatching(/^invalid JSON/),
      payload: '{"event_type":"request_completed","oops":',
    },
  ]);
}

function expectedMatrix(
  observed: Observed[],
  listed: Map<string, { prompt: string; completion: string }>,
) {
  const rows = new Map<string, ExpectedRow & { cost: bigint }>();
  const rowFor = (vendor: string, model: string, task: string) => {
    const key = `${vendor}|${model}|${task}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        vendor,
        model,
        task,
        requests: 0,
        succeeded: 0,
        failed_attempts: 0,
        input_tokens: 0,
        output_tokens: 0,
        cost_usd: "",
        cost: 0n,
      };
      rows.set(key, row);
    }
    return row;
  };
  const firstCandidate = {
    fast: "sim-small",
    flaky: "sim-broken",
    limited: "sim-limited",
  } as const;
  for (const [index, seen] of observed.entries()) {
    const row = rowFor(seen.vendor, seen.model, seen.task);
    row.requests += 1;
    row.succeeded += 1;
    row.input_tokens += seen.inputTokens;
    row.output_tokens += seen.outputTokens;
    const pricing = listed.get(`${seen.vendor}/${seen.model}`);
    if (!pricing) throw new Error(`/v1/models does not list ${seen.vendor}/${seen.model}`);
    row.cost +=
      BigInt(seen.inputTokens) * parseDecimal(pricing.prompt, 38) +
      BigInt(seen.outputTokens) * parseDecimal(pricing.completion, 38);
    // Every route's first candidate is on alpha; each extra attempt is one failure there.
    const plannedModel = PLAN[index]?.model ?? "fast";
    for (let failure = 1; failure < seen.attempts; failure += 1) {
      rowFor("alpha", firstCandidate[plannedModel], seen.task).failed_attempts += 1;
    }
  }
  return [...rows.values()].map(({ cost, ...row }) => ({
    ...row,
    cost_usd: formatDecimal(cost, 38),
  }));
}

function byKey(
  a: { vendor: string; model: string; task: string },
  b: { vendor: string; model: string; task: string },
) {
  return `${a.vendor}|${a.model}|${a.task}`.localeCompare(`${b.vendor}|${b.model}|${b.task}`);
}

// Requests and failed attempts travel on different topics (and, on Kafka,
// partitions), so wait until both have arrived before comparing.
async function waitForMatrix(stack: Stack, totalRequests: number, totalFailedAttempts: number) {
  return waitFor(async () => {
    const response = await stack.analytics.inject({
      url: "/v1/matrix?group_by=tenant,vendor,model,task",
      headers: { authorization: `Bearer ${DEMO_ANALYTICS_TOKEN}` },
    });
    expect(response.statusCode).toBe(200);
    const rows = (response.json().rows as (ExpectedRow & { tenant: string })[]).filter(
      (row) => row.tenant === stack.tenant,
    );
    const requests = rows.reduce((sum, row) => sum + row.requests, 0);
    const failedAttempts = rows.reduce((sum, row) => sum + row.failed_attempts, 0);
    return requests >= totalRequests && failedAttempts >= totalFailedAttempts ? rows : null;
  });
}

export async function waitFor<T>(probe: () => Promise<T | null>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await probe();
    if (result !== null) return result;
    if (Date.now() > deadline) throw new Error(`nothing arrived within ${timeoutMs} ms`);
    await sleep(100);
  }
}
