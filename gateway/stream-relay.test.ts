// The OpenAI pass-through relay reads only the chunks that matter now; these
// check that what it skips still reaches the client byte for byte, and still
// counts for the estimate when no usage comes.
import type { ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { SecretRedactor } from "../eventlog/secret-redactor.ts";
import { StreamCapture } from "./answer-heuristics.ts";
import { relayOpenAIPassThrough } from "./stream-relay.ts";
import { fromOpenAIUsage } from "./vendors/openai-compatible.ts";

/** A client connection that keeps what it is sent. */
function fakeClient(): { client: ServerResponse; sent: () => string } {
  let body = "";
  const client = {
    destroyed: false,
    writeHead() {},
    write(text: string) {
      body += text;
      return true;
    },
    end() {},
    on() {},
    off() {},
  };
  return { client: client as unknown as ServerResponse, sent: () => body };
}

function chunk(fields: Record<string, unknown>): string {
  return `data: ${JSON.stringify({ id: "c", object: "chat.completion.chunk", model: "m", ...fields })}\n\n`;
}

const token = (text: string) =>
  chunk({ choices: [{ index: 0, delta: { content: text }, finish_reason: null }], usage: null });

async function relay(
  frames: string[],
  usage: Record<string, number> | null,
  capture?: StreamCapture,
) {
  const body = [...frames];
  if (usage) body.push(chunk({ choices: [], usage }));
  body.push("data: [DONE]\n\n");
  const { client, sent } = fakeClient();
  let elapsed = 0;
  const relayed = await relayOpenAIPassThrough(
    { body: Readable.from(body.map((text) => Buffer.from(text))) },
    client,
    {
      headers: {},
      capture,
      redactor: SecretRedactor.none,
      elapsedMs: () => ++elapsed,
      errorFrame: () => "",
      fromUsage: fromOpenAIUsage,
      isGatewayOnlyFrame: (frame) =>
        (frame as { choices?: unknown[] }).choices?.length === 0 && true,
    },
  );
  return { relayed, sent: sent() };
}

describe("OpenAI pass-through relay", () => {
  it("relays every chunk unchanged, holds back the gateway's usage chunk, and reads usage, model and first token", async () => {
    const frames = ["Hel", "lo", " there"].map(token);
    const { relayed, sent } = await relay(frames, { prompt_tokens: 5, completion_tokens: 3 });
    expect(sent).toBe(`${frames.join("")}data: [DONE]\n\n`);
    expect(relayed.usage?.outputTokens).toBe(3);
    expect(relayed.responseModel).toBe("m");
    expect(relayed.ttftMs).toBe(1);
  });

  it("without usage, every token counts for the estimate, in order", async () => {
    const words = Array.from({ length: 50 }, (_, index) => `w${index} `);
    const { relayed } = await relay(words.map(token), null);
    expect(relayed.usage).toBeNull();
    expect(relayed.outputText).toBe(words.join(""));
  });

  it("past the unread bound (1 MiB), reads what it kept and stays in order", async () => {
    const words = Array.from({ length: 12_000 }, (_, index) => `${"x".repeat(80)}${index} `);
    const { relayed } = await relay(words.map(token), null);
    expect(relayed.outputText).toBe(words.join(""));
  });

  it("reads a finish reason and an error wherever they come", async () => {
    const frames = [
      token("a"),
      token("b"),
      chunk({ choices: [{ index: 0, delta: {}, finish_reason: "length" }], usage: null }),
    ];
    const capture = new StreamCapture(null);
    const { relayed } = await relay(frames, null, capture);
    expect(relayed.outputText).toBe("ab");
    expect(capture.scored().now.map((score) => score.metric)).toEqual(["truncated"]);
    const broken = await relay([token("a"), `data: {"error":{"message":"boom"}}\n\n`], null);
    expect(broken.relayed.failure?.code).toBe("upstream_stream_failed");
  });
});
