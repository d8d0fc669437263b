// The simulator's Anthropic Messages protocol as the official @anthropic-ai/sdk client sees
// it, and as the API's wire shapes and its recorded streams say it must look.
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateAnthropic } from "../test/fixtures/anthropic-spec.ts";
import { referenceText } from "../test/fixtures/reference.ts";
import { type RunningSimulator, startSimulator } from "./index.ts";

let simulator: RunningSimulator;
let client: Anthropic;

beforeAll(async () => {
  simulator = await startSimulator({
    models: [{ id: "sim-claude" }, { id: "sim-limited" }],
    faultsByModel: { "sim-limited": { rateLimited: 1 } },
  });
  client = new Anthropic({ apiKey: "test-key", baseURL: simulator.url, maxRetries: 0 });
});
afterAll(() => simulator.close());

const weather = {
  name: "get_weather",
  description: "The weather in a city",
  input_schema: {
    type: "object" as const,
    properties: { city: { type: "string" }, units: { type: "string", enum: ["c", "f"] } },
    required: ["city", "units"],
  },
};

function post(body: unknown, headers: Record<string, string> = { "x-api-key": "k" }) {
  return fetch(`${simulator.url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "anthropic-version": "2023-06-01", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

/** The `event:` names of an SSE body, in order. */
function eventNames(body: string): string[] {
  return body
    .split("\n")
    .filter((line) => line.startsWith("event: "))
    .map((line) => line.slice(7));
}

describe("Anthropic Messages", () => {
  it("a whole answer conforms to Message and reports the usage the simulator logged", async () => {
    const message = await client.messages.create({
      model: "sim-claude",
      max_tokens: 200,
      system: "Be brief.",
      messages: [{ role: "user", content: "Which vendor is cheapest?" }],
    });
    expect(validateAnthropic("Message", message)).toEqual([]);
    expect(message.stop_reason).toBe("end_turn");
    const logged = simulator.answered().at(-1)?.usage;
    expect(message.usage).toMatchObject({
      input_tokens: logged?.promptTokens,
      output_tokens: logged?.completionTokens,
      cache_read_input_tokens: 0,
      cache_creation_input_tokens: 0,
    });
  });

  it("a stream has the recorded event sequence, each event valid, and the SDK assembles it", async () => {
    const response = await post({
      model: "sim-claude",
      max_tokens: 5,
      stream: true,
      messages: [{ role: "user", content: "Tell me a story." }],
    });
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const body = await response.text();
    const recorded = eventNames(referenceText("anthropic-sdk-python/sse/basic_response.txt"));
    // The same grammar as the live API's: start, a block opened (a ping near it), deltas, closes.
    const collapse = (names: string[]) =>
      names.filter((name) => name !== "ping").filter((name, index, all) => name !== all[index - 1]);
    expect(collapse(eventNames(body))).toEqual(collapse(recorded));
    for (const frame of body.split("\n\n").filter(Boolean)) {
      const data = JSON.parse(frame.split("\n")[1]?.slice(6) ?? "{}");
      if (data.type !== "ping") expect(validateAnthropic("MessageStreamEvent", data)).toEqual([]);
    }
    const stream = client.messages.stream({
      model: "sim-claude",
      max_tokens: 5,
      messages: [{ role: "user", content: "Tell me a story." }],
    });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe("max_tokens");
    expect(final.usage.output_tokens).toBe(5);
  });

  it("calls a tool when given one, streamed and not, and answers in text after its result", async () => {
    const message = await client.messages.create({
      model: "sim-claude",
      max_tokens: 100,
      tools: [weather],
      messages: [{ role: "user", content: "Weather in Paris?" }],
    });
    expect(validateAnthropic("Message", message)).toEqual([]);
    expect(message.stop_reason).toBe("tool_use");
    const call = message.content[0];
    expect(call).toMatchObject({
      type: "tool_use",
      name: "get_weather",
      input: { city: "the", units: "c" },
    });
    const streamed = await client.messages
      .stream({
        model: "sim-claude",
        max_tokens: 100,
        tools: [weather],
        messages: [{ role: "user", content: "Weather in Paris?" }],
      })
      .finalMessage();
    expect(streamed.content[0]).toMatchObject({
      type: "tool_use",
      input: { city: "the", units: "c" },
    });
    if (call?.type !== "tool_use") throw new Error("no tool call");
    const after = await client.messages.create({
      model: "sim-claude",
      max_tokens: 100,
      tools: [weather],
      messages: [
        { role: "user", content: "Weather in Paris?" },
        { role: "assistant", content: [call] },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: call.id, content: "Sunny, 21 C" }],
        },
      ],
    });
    expect(after.stop_reason).toBe("end_turn");
    expect(after.content[0]?.type).toBe("text");
  });

  it("refuses in Anthropic's error shape: no key, a bad body, an unknown model, a rate limit", async () => {
    const noKey = await post({ model: "sim-claude", max_tokens: 1, messages: [] }, {});
    expect(noKey.status).toBe(401);
    expect(validateAnthropic("ErrorResponse", await noKey.json())).toEqual([]);
    const noMaxTokens = await post({
      model: "sim-claude",
      messages: [{ role: "user", content: "x" }],
    });
    expect(noMaxTokens.status).toBe(400);
    expect((await noMaxTokens.json()).error.message).toBe("max_tokens: Field required");
    await expect(
      client.messages.create({
        model: "sim-nope",
        max_tokens: 5,
        messages: [{ role: "user", content: "x" }],
      }),
    ).rejects.toMatchObject({ status: 404 });
    const limited = await post({
      model: "sim-limited",
      max_tokens: 5,
      messages: [{ role: "user", content: "x" }],
    });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("1");
    const body = await limited.json();
    expect(validateAnthropic("ErrorResponse", body)).toEqual([]);
    expect(body.error.type).toBe("rate_limit_error");
  });
});
