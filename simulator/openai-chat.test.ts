// The simulator as the official OpenAI client sees it, and as OpenAI's own OpenAPI
// description says it must look.
import OpenAI from "openai";
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
} from "openai/resources/chat/completions";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { validateOpenAI } from "../test/fixtures/openai-spec.ts";
import { type RunningSimulator, startSimulator, usageFor } from "./index.ts";

// Typed as the openai client's own parameters: usageFor takes them as they are.
const QUESTION: ChatCompletionCreateParamsNonStreaming = {
  model: "sim-small",
  messages: [
    { role: "system", content: "You answer briefly." },
    { role: "user", content: "Which vendor is cheapest for summaries this quarter?" },
  ],
};

let simulator: RunningSimulator;
let client: OpenAI;

beforeAll(async () => {
  simulator = await startSimulator({ models: [{ id: "sim-small" }, { id: "sim-large" }] });
  client = new OpenAI({ apiKey: "test-key", baseURL: `${simulator.url}/v1`, maxRetries: 0 });
});

afterAll(() => simulator.close());

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const chunks: ChatCompletionChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function contentOf(chunks: ChatCompletionChunk[]): string[] {
  return chunks.flatMap((chunk) => chunk.choices.flatMap((choice) => choice.delta.content || []));
}

describe("a whole answer", () => {
  it("conforms to OpenAI's CreateChatCompletionResponse and reports the predicted usage", async () => {
    const completion = await client.chat.completions.create(QUESTION);

    expect(validateOpenAI("CreateChatCompletionResponse", completion)).toEqual([]);
    expect(completion.id).toMatch(/^chatcmpl-[A-Za-z0-9]{29}$/);
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe("sim-small");
    expect(completion.choices).toHaveLength(1);
    const [choice] = completion.choices;
    expect(choice?.message.role).toBe("assistant");
    expect(choice?.message.refusal).toBeNull();
    expect(choice?.finish_reason).toBe("stop");

    const { promptTokens, completionTokens } = usageFor(QUESTION);
    expect(completion.usage).toMatchObject({
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    // One word per completion token.
    expect(choice?.message.content?.split(" ")).toHaveLength(completionTokens);
  });

  it("is the same answer for the same question", async () => {
    const first = await client.chat.completions.create(QUESTION);
    const second = await client.chat.completions.create(QUESTION);
    expect(second.choices[0]?.message.content).toBe(first.choices[0]?.message.content);
    expect(second.id).not.toBe(first.id);
  });

  it("counts the text of array-of-parts content like the same text as a string", async () => {
    const asParts: ChatCompletionCreateParamsNonStreaming = {
      model: "sim-large",
      messages: [
        {
          role: "user",
          content: [
            { type: "text", text: "Which vendor is cheapest " },
            { type: "image_url", image_url: { url: "https://example.com/chart.png" } },
            { type: "text", text: "for summaries this quarter?" },
          ],
        },
      ],
    };
    const asString: ChatCompletionCreateParamsNonStreaming = {
      model: "sim-large",
      messages: [{ role: "user", content: "Which vendor is cheapest for summaries this quarter?" }],
    };

    const completion = await client.chat.completions.create(asParts);

    expect(usageFor(asParts)).toEqual(usageFor(asString));
    expect(completion.usage?.prompt_tokens).toBe(usageFor(asParts).promptTokens);
    expect(completion.model).toBe("sim-large");
  });

  it("stops at max_tokens with finish_reason length, as the start of the whole answer", async () => {
    const whole = await client.chat.completions.create(QUESTION);
    const capped = await client.chat.completions.create({ ...QUESTION, max_tokens: 5 });

    expect(capped.choices[0]?.finish_reason).toBe("length");
    expect(capped.usage?.completion_tokens).toBe(5);
    expect(usageFor({ ...QUESTION, max_tokens: 5 }).completionTokens).toBe(5);
    const cappedText = capped.choices[0]?.message.content ?? "";
    expect(cappedText.split(" ")).toHaveLength(5);
    expect(whole.choices[0]?.message.content?.startsWith(cappedText)).toBe(true);
  });

  it("takes max_completion_tokens as the limit too", async () => {
    const capped = await client.chat.completions.create({ ...QUESTION, max_completion_tokens: 3 });
    expect(capped.choices[0]?.finish_reason).toBe("length");
    expect(capped.usage?.completion_tokens).toBe(3);
  });
});

describe("a streamed answer", () => {
  it("with include_usage: chunks conform to CreateChatCompletionStreamResponse, one delta per token, one usage chunk last", async () => {
    const whole = await client.chat.completions.create(QUESTION);
    const chunks = await collect(
      await client.chat.completions.create({
        ...QUESTION,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );

    for (const chunk of chunks) {
      expect(validateOpenAI("CreateChatCompletionStreamResponse", chunk)).toEqual([]);
      expect(chunk.object).toBe("chat.completion.chunk");
      expect(chunk.id).toBe(chunks[0]?.id);
      expect(chunk.model).toBe("sim-small");
    }
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");

    const usageChunks = chunks.filter((chunk) => chunk.usage != null);
    expect(usageChunks).toHaveLength(1);
    const usageChunk = chunks.at(-1);
    expect(usageChunks[0]).toBe(usageChunk);
    expect(usageChunk?.choices).toEqual([]);
    const { promptTokens, completionTokens } = usageFor(QUESTION);
    expect(usageChunk?.usage).toMatchObject({
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    });
    // Every other chunk carries usage: null, as OpenAI's do.
    for (const chunk of chunks.slice(0, -1)) expect(chunk.usage).toBeNull();

    const deltas = contentOf(chunks);
    expect(deltas).toHaveLength(completionTokens);
    expect(deltas.join("")).toBe(whole.choices[0]?.message.content);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("stop");
  });

  it("without include_usage: no usage anywhere, the same text", async () => {
    const whole = await client.chat.completions.create(QUESTION);
    const chunks = await collect(
      await client.chat.completions.create({ ...QUESTION, stream: true }),
    );

    for (const chunk of chunks) {
      expect(validateOpenAI("CreateChatCompletionStreamResponse", chunk)).toEqual([]);
      expect(chunk).not.toHaveProperty("usage");
    }
    expect(contentOf(chunks).join("")).toBe(whole.choices[0]?.message.content);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
  });

  it("stops at max_tokens with finish_reason length", async () => {
    const chunks = await collect(
      await client.chat.completions.create({
        ...QUESTION,
        max_tokens: 4,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    expect(contentOf(chunks)).toHaveLength(4);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("length");
    expect(chunks.at(-1)?.usage?.completion_tokens).toBe(4);
  });

  it("is server-sent events: data frames and a final [DONE]", async () => {
    const response = await request(`${simulator.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: "Bearer test-key", "content-type": "application/json" },
      body: JSON.stringify({ ...QUESTION, max_tokens: 2, stream: true }),
    });
    const body = await response.body.text();

    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toBe("text/event-stream; charset=utf-8");
    const frames = body.split("\n\n");
    expect(frames.pop()).toBe("");
    expect(frames.pop()).toBe("data: [DONE]");
    // Role, two tokens, finish.
    expect(frames).toHaveLength(4);
    for (const frame of frames) {
      expect(frame.startsWith("data: ")).toBe(true);
      expect(() => JSON.parse(frame.slice("data: ".length))).not.toThrow();
    }
  });
});

describe("obfuscation padding", () => {
  it("pads every chunk by default and none when include_obfuscation is false", async () => {
    const padded = await collect(
      await client.chat.completions.create({ ...QUESTION, max_tokens: 3, stream: true }),
    );
    for (const chunk of padded) expect(chunk).toHaveProperty("obfuscation", expect.any(String));

    const plain = await collect(
      await client.chat.completions.create({
        ...QUESTION,
        max_tokens: 3,
        stream: true,
        stream_options: { include_obfuscation: false },
      }),
    );
    for (const chunk of plain) expect(chunk).not.toHaveProperty("obfuscation");
    expect(contentOf(plain)).toEqual(contentOf(padded));
  });
});

describe("the model list", () => {
  it("conforms to OpenAI's ListModelsResponse and names the simulated models", async () => {
    const response = await request(`${simulator.url}/v1/models`, {
      headers: { authorization: "Bearer test-key" },
    });
    const listing = await response.body.json();
    expect(validateOpenAI("ListModelsResponse", listing)).toEqual([]);

    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    expect(models).toEqual(["sim-small", "sim-large"]);
  });
});
