// Outages as a client meets them: OpenAI's error bodies and headers, switched on and off at
// run time, hanging requests that only the client's timeout or close() ends.
import OpenAI, { type APIError } from "openai";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { validateOpenAI } from "../test/fixtures/openai-spec.ts";
import { type RunningSimulator, type SimulatorOptions, startSimulator } from "./index.ts";

const QUESTION = {
  model: "sim-small",
  messages: [{ role: "user" as const, content: "Summarise the quarter." }],
};

const running: RunningSimulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((simulator) => simulator.close()));
});

async function simulatorWith(options: Partial<SimulatorOptions>) {
  const simulator = await startSimulator({
    models: [{ id: "sim-small" }, { id: "sim-large" }],
    ...options,
  });
  running.push(simulator);
  const client = new OpenAI({
    apiKey: "test-key",
    baseURL: `${simulator.url}/v1`,
    maxRetries: 0,
  });
  return { simulator, client };
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail("expected the request to fail"),
    (error: unknown) => error,
  );
}

function postChat(simulator: RunningSimulator, body: unknown) {
  return request(`${simulator.url}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: "Bearer test-key", "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("server errors", () => {
  it("answers 500 with OpenAI's server_error body", async () => {
    const { simulator, client } = await simulatorWith({ faults: { serverError: 1 } });

    const error = await rejectionOf(client.chat.completions.create(QUESTION));
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as APIError).status).toBe(500);

    const response = await postChat(simulator, QUESTION);
    const body = await response.body.json();
    expect(response.statusCode).toBe(500);
    expect(body).toEqual({
      error: {
        message: "The server had an error while processing your request. Sorry about that!",
        type: "server_error",
        param: null,
        code: null,
      },
    });
    expect(validateOpenAI("ErrorResponse", body)).toEqual([]);
  });
});

describe("rate limits", () => {
  it("answers 429 with retry-after and OpenAI's rate-limit body", async () => {
    const { client } = await simulatorWith({ faults: { rateLimited: 1 } });

    const error = (await rejectionOf(client.chat.completions.create(QUESTION))) as APIError;
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect(error.status).toBe(429);
    expect(error.headers?.get("retry-after")).toBe("1");
    expect(error.type).toBe("requests");
    expect(error.code).toBe("rate_limit_exceeded");
    expect(error.param).toBeNull();
    expect(error.message).toMatch(/Rate limit reached for sim-small .* Please try again in 1s\./);
    expect(validateOpenAI("ErrorResponse", { error: error.error })).toEqual([]);
  });
});

describe("outages at run time", () => {
  it("setFaults turns one model's outage on and off while the other keeps answering", async () => {
    const { simulator, client } = await simulatorWith({});

    await expect(client.chat.completions.create(QUESTION)).resolves.toBeDefined();

    simulator.setFaults({ serverError: 1 }, "sim-small");
    await expect(client.chat.completions.create(QUESTION)).rejects.toBeInstanceOf(
      OpenAI.InternalServerError,
    );
    await expect(
      client.chat.completions.create({ ...QUESTION, model: "sim-large" }),
    ).resolves.toBeDefined();

    simulator.setFaults({}, "sim-small");
    await expect(client.chat.completions.create(QUESTION)).resolves.toBeDefined();
    expect(simulator.requestCount()).toBe(4);
  });

  it("setFaults without a model changes every model that has no profile of its own", async () => {
    const { simulator, client } = await simulatorWith({
      faultsByModel: { "sim-large": {} },
    });
    simulator.setFaults({ rateLimited: 1 });

    await expect(client.chat.completions.create(QUESTION)).rejects.toBeInstanceOf(
      OpenAI.RateLimitError,
    );
    await expect(
      client.chat.completions.create({ ...QUESTION, model: "sim-large" }),
    ).resolves.toBeDefined();
  });

  it("refuses a fault profile it cannot honour and a model it does not simulate", async () => {
    const { simulator } = await simulatorWith({});
    expect(() => simulator.setFaults({ serverError: 1.5 })).toThrow(/serverError/);
    expect(() => simulator.setFaults({ serverError: 0.6, timeout: 0.6 })).toThrow(/at most 1/);
    expect(() => simulator.setFaults({ serverError: 1 }, "gpt-5")).toThrow(/unknown model gpt-5/);
  });

  it("replays the same faults for the same seed", async () => {
    async function outcomes(seed: number): Promise<number[]> {
      const { simulator } = await simulatorWith({ faults: { serverError: 0.5 }, seed });
      const statuses: number[] = [];
      for (let attempt = 0; attempt < 20; attempt++) {
        const response = await postChat(simulator, QUESTION);
        await response.body.dump();
        statuses.push(response.statusCode);
      }
      return statuses;
    }

    const first = await outcomes(7);
    expect(await outcomes(7)).toEqual(first);
    expect(first).toContain(200);
    expect(first).toContain(500);
  });
});

describe("timeouts", () => {
  it("never answers, so the client's own timeout fires", async () => {
    const { client } = await simulatorWith({ faults: { timeout: 1 } });

    const started = performance.now();
    const error = await rejectionOf(client.chat.completions.create(QUESTION, { timeout: 300 }));
    const waited = performance.now() - started;

    expect(error).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(2_000);
  });

  it("close() returns promptly and ends requests still hanging", async () => {
    const { simulator } = await simulatorWith({ faults: { timeout: 1 } });
    const hanging = postChat(simulator, QUESTION);
    const outcome = hanging.then(
      () => "answered",
      () => "connection closed",
    );
    // Let the request reach the simulator before closing.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(simulator.requestCount()).toBe(1);

    const started = performance.now();
    await simulator.close();
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(await outcome).toBe("connection closed");
  });
});
