import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningSimulator, startSimulator } from "./index.ts";

let simulator: RunningSimulator;
beforeAll(async () => {
  simulator = await startSimulator({
    models: [{ id: "overloaded" }, { id: "stream-error" }, { id: "stream-cut" }],
    faultsByModel: {
      overloaded: { overloaded: 1 },
      "stream-error": { streamError: 1 },
      "stream-cut": { streamCut: 1 },
    },
  });
});
afterAll(() => simulator?.close());

function chat(model: string, stream: boolean, path = "/v1/chat/completions") {
  return fetch(`${simulator.url}${path}`, {
    method: "POST",
    headers: { authorization: "Bearer k", "x-api-key": "k", "content-type": "application/json" },
    body: JSON.stringify({
      model,
      stream,
      max_tokens: 50,
      messages: [{ role: "user", content: "hi" }],
    }),
  });
}

describe("fault kinds for failover tests", () => {
  it("overloaded: OpenAI 503, Anthropic 529 overloaded_error", async () => {
    expect((await chat("overloaded", false)).status).toBe(503);
    const anthropic = await chat("overloaded", false, "/v1/messages");
    expect(anthropic.status).toBe(529);
    expect((await anthropic.json()).error.type).toBe("overloaded_error");
  });

  it("streamError: a 200 stream whose first event is the vendor's error", async () => {
    const response = await chat("stream-error", true);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(JSON.parse(text.trim().slice("data: ".length)).error.type).toBe("server_error");
    const anthropic = await (await chat("stream-error", true, "/v1/messages")).text();
    expect(anthropic.startsWith("event: error\n")).toBe(true);
  });

  it("streamError on a whole answer is a 500", async () => {
    expect((await chat("stream-error", false)).status).toBe(500);
  });

  it("streamCut: the first token arrives, then the connection is cut", async () => {
    const response = await chat("stream-cut", true);
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('"role":"assistant"');
    await expect(
      (async () => {
        for (;;) if ((await reader.read()).done) return "ended cleanly";
      })(),
    ).rejects.toThrow();
  });
});
