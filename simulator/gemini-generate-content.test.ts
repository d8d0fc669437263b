// The simulator's Gemini protocol, held to the shapes of the Firebase SDKs' recorded Gemini
// answers (test/reference/vertexai-sdk-test-data): every field the simulator writes appears in a
// recorded answer of the same kind.
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { referenceUrl } from "../test/fixtures/reference.ts";
import { type RunningSimulator, startSimulator } from "./index.ts";

const RECORDED = referenceUrl("vertexai-sdk-test-data/mock-responses/");

let simulator: RunningSimulator;
beforeAll(async () => {
  simulator = await startSimulator({
    models: [{ id: "sim-gemini" }, { id: "sim-limited" }],
    faultsByModel: { "sim-limited": { rateLimited: 1 } },
  });
});
afterAll(() => simulator.close());

/** Every key path in a JSON value, array indexes collapsed: `candidates[].content.parts[].text`. */
function keyPaths(value: unknown, prefix = ""): string[] {
  if (Array.isArray(value)) return value.flatMap((item) => keyPaths(item, `${prefix}[]`));
  if (typeof value !== "object" || value === null) return [prefix];
  return Object.entries(value).flatMap(([key, item]) =>
    keyPaths(item, prefix ? `${prefix}.${key}` : key),
  );
}

function recordedPaths(kind: "unary-success" | "streaming-success"): Set<string> {
  const paths = new Set<string>();
  for (const folder of ["googleai", "vertexai"]) {
    for (const name of readdirSync(new URL(`${folder}/`, RECORDED))) {
      if (!name.startsWith(kind)) continue;
      const text = readFileSync(new URL(`${folder}/${name}`, RECORDED), "utf8");
      const bodies =
        kind === "unary-success" && name.endsWith(".json")
          ? [JSON.parse(text)]
          : text
              .split("\n")
              .filter((line) => line.startsWith("data: "))
              .map((line) => JSON.parse(line.slice(6)));
      for (const body of bodies) for (const path of keyPaths(body)) paths.add(path);
    }
  }
  return paths;
}

function post(model: string, method: string, body: unknown, key: string | null = "k") {
  return fetch(`${simulator.url}/v1beta/models/${model}:${method}?alt=sse`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { "x-goog-api-key": key } : {}) },
    body: JSON.stringify(body),
  });
}

const tools = [
  {
    functionDeclarations: [
      {
        name: "getTemperature",
        parametersJsonSchema: {
          type: "object",
          properties: { city: { type: "string" } },
          required: ["city"],
        },
      },
    ],
  },
];

describe("Gemini generateContent", () => {
  it("a whole answer has only recorded fields and reports the logged usage", async () => {
    const response = await post("sim-gemini", "generateContent", {
      contents: [{ role: "user", parts: [{ text: "What is the capital of Wyoming?" }] }],
    });
    expect(response.status).toBe(200);
    const body = await response.json();
    const recorded = recordedPaths("unary-success");
    for (const path of keyPaths(body)) expect(recorded, path).toContain(path);
    const logged = simulator.answered().at(-1)?.usage;
    expect(body.usageMetadata).toMatchObject({
      promptTokenCount: logged?.promptTokens,
      candidatesTokenCount: logged?.completionTokens,
      totalTokenCount: (logged?.promptTokens ?? 0) + (logged?.completionTokens ?? 0),
    });
    expect(body.candidates[0].finishReason).toBe("STOP");
  });

  it("a stream is SSE frames with running usage, the last with finishReason and candidatesTokenCount", async () => {
    const response = await post("sim-gemini", "streamGenerateContent", {
      contents: [{ role: "user", parts: [{ text: "Tell me more." }] }],
      generationConfig: { maxOutputTokens: 4 },
    });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const frames = (await response.text())
      .split("\r\n\r\n")
      .filter(Boolean)
      .map((frame) => JSON.parse(frame.slice(6)));
    const recorded = recordedPaths("streaming-success");
    for (const frame of frames)
      for (const path of keyPaths(frame)) expect(recorded, path).toContain(path);
    expect(frames.at(-1).candidates[0].finishReason).toBe("MAX_TOKENS");
    expect(frames.at(-1).usageMetadata.candidatesTokenCount).toBe(4);
    expect(
      frames.slice(0, -1).every((frame) => frame.usageMetadata.candidatesTokenCount === undefined),
    ).toBe(true);
  });

  it("calls a declared function, whole and streamed, and answers in text after its response", async () => {
    const ask = {
      contents: [{ role: "user", parts: [{ text: "Temperature in San Jose?" }] }],
      tools,
    };
    const whole = await (await post("sim-gemini", "generateContent", ask)).json();
    expect(whole.candidates[0].content.parts).toEqual([
      { functionCall: { name: "getTemperature", args: { city: "the" } } },
    ]);
    const streamed = (await (await post("sim-gemini", "streamGenerateContent", ask)).text())
      .split("\r\n\r\n")
      .filter(Boolean);
    expect(
      JSON.parse(streamed.at(-1)?.slice(6) ?? "{}").candidates[0].content.parts[0].functionCall
        .name,
    ).toBe("getTemperature");
    const after = await (
      await post("sim-gemini", "generateContent", {
        ...ask,
        contents: [
          ...ask.contents,
          {
            role: "model",
            parts: [{ functionCall: { name: "getTemperature", args: { city: "San Jose" } } }],
          },
          {
            role: "user",
            parts: [{ functionResponse: { name: "getTemperature", response: { celsius: 21 } } }],
          },
        ],
      })
    ).json();
    expect(after.candidates[0].content.parts[0].text).toEqual(expect.any(String));
  });

  it("refuses in Google's RPC error envelope, as recorded", async () => {
    const recordedError = JSON.parse(
      readFileSync(new URL("vertexai/unary-failure-quota-exceeded.json", RECORDED), "utf8"),
    );
    const limited = await post("sim-limited", "generateContent", {
      contents: [{ parts: [{ text: "x" }] }],
    });
    expect(limited.status).toBe(429);
    const body = await limited.json();
    expect(Object.keys(body.error).sort()).toEqual(
      Object.keys(recordedError.error)
        .filter((key) => key !== "details")
        .sort(),
    );
    expect(body.error).toMatchObject({ code: 429, status: "RESOURCE_EXHAUSTED" });
    const unknown = await post("sim-nope", "generateContent", {
      contents: [{ parts: [{ text: "x" }] }],
    });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.status).toBe("NOT_FOUND");
    const noKey = await post(
      "sim-gemini",
      "generateContent",
      { contents: [{ parts: [{ text: "x" }] }] },
      null,
    );
    expect(noKey.status).toBe(403);
  });
});

describe("OpenAI embeddings and Azure OpenAI", () => {
  it("embeds on /v1/embeddings and on an Azure deployment, usage reported", async () => {
    const response = await fetch(`${simulator.url}/v1/embeddings`, {
      method: "POST",
      headers: { authorization: "Bearer k", "content-type": "application/json" },
      body: JSON.stringify({ model: "sim-gemini", input: ["first text", "second"] }),
    });
    const body = await response.json();
    expect(body.data).toHaveLength(2);
    expect(body.usage).toEqual({ prompt_tokens: 3 + 2, total_tokens: 5 });
    const azure = await fetch(
      `${simulator.url}/openai/deployments/sim-gemini/chat/completions?api-version=2024-10-21`,
      {
        method: "POST",
        headers: { "api-key": "k", "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
      },
    );
    expect(azure.status).toBe(200);
    expect((await azure.json()).model).toBe("sim-gemini");
    const azureNoKey = await fetch(`${simulator.url}/openai/deployments/sim-gemini/embeddings`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: "x" }),
    });
    expect(azureNoKey.status).toBe(401);
  });
});
