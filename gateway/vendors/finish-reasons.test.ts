// Unknown finish reasons are `other`, never `stop`, in all three adapters,
// whole, streamed and passed through, and the vendor's own word is kept:
// a truncated or filtered answer must never be counted as a clean one.
import { describe, expect, it } from "vitest";
import { gatewayConfig, type VendorConfig } from "../config.ts";
import type { NeutralFinish, NeutralStreamEvent } from "../neutral.ts";
import { vendorFinishReasonOf } from "./adapter.ts";
import {
  AnthropicStreamDecoder,
  fromAnthropicMessage,
  mapAnthropicStopReason,
} from "./anthropic.ts";
import { fromGeminiResponse, GeminiStreamDecoder, mapGeminiFinishReason } from "./gemini.ts";
import {
  fromOpenAIChatCompletion,
  mapOpenAIFinishReason,
  OpenAIStreamDecoder,
} from "./openai-compatible.ts";
import { createVendorAdapter } from "./registry.ts";

function finishOf(events: NeutralStreamEvent[]): NeutralFinish | null {
  const finish = events.find((event) => event.type === "finish");
  return finish?.type === "finish"
    ? { reason: finish.finishReason, vendorReason: finish.vendorReason ?? null }
    : null;
}

function adapterFor(protocol: string) {
  const config = gatewayConfig.parse({
    price_catalog: "-",
    api_keys: [{ id: "k", tenant: "t", sha256: "0".repeat(64) }],
    vendors: [{ id: "v", api_key: "sk-test", protocol }],
    routes: [],
  });
  return createVendorAdapter(config.vendors[0] as VendorConfig);
}

const openAIAnswer = (reason: unknown) => ({
  id: "c",
  model: "m",
  choices: [{ index: 0, message: { content: "hi" }, finish_reason: reason }],
});
const anthropicAnswer = (reason: unknown) => ({
  type: "message",
  id: "msg_1",
  model: "claude",
  content: [{ type: "text", text: "hi" }],
  stop_reason: reason,
  usage: { input_tokens: 1, output_tokens: 1 },
});
const geminiAnswer = (reason: unknown) => ({
  candidates: [{ content: { parts: [{ text: "hi" }] }, finishReason: reason }],
});

describe("known finish reasons keep their meaning", () => {
  it.each([
    ["stop", "stop"],
    ["length", "length"],
    ["model_length", "length"],
    ["tool_calls", "tool_calls"],
    ["function_call", "tool_calls"],
    ["content_filter", "content_filter"],
    ["error", "error"],
  ])("OpenAI %s → %s", (raw, neutral) => {
    expect(mapOpenAIFinishReason(raw)).toEqual({ reason: neutral, vendorReason: raw });
  });

  it.each([
    ["end_turn", "stop"],
    ["max_tokens", "length"],
    ["model_context_window_exceeded", "length"],
    ["tool_use", "tool_calls"],
    ["stop_sequence", "stop_sequence"],
    ["refusal", "refusal"],
  ])("Anthropic %s → %s", (raw, neutral) => {
    expect(mapAnthropicStopReason(raw)).toEqual({ reason: neutral, vendorReason: raw });
  });

  it.each([
    ["STOP", "stop"],
    ["MAX_TOKENS", "length"],
    ["SAFETY", "content_filter"],
    ["RECITATION", "content_filter"],
    ["BLOCKLIST", "content_filter"],
    ["PROHIBITED_CONTENT", "content_filter"],
    ["SPII", "content_filter"],
    ["IMAGE_SAFETY", "content_filter"],
    ["MALFORMED_FUNCTION_CALL", "error"],
  ])("Gemini %s → %s", (raw, neutral) => {
    expect(mapGeminiFinishReason(raw, false)).toEqual({ reason: neutral, vendorReason: raw });
  });

  it("Gemini: function calls make a finished answer tool_calls, but never hide a cut or filtered one", () => {
    expect(mapGeminiFinishReason("STOP", true).reason).toBe("tool_calls");
    expect(mapGeminiFinishReason("MAX_TOKENS", true).reason).toBe("length");
    expect(mapGeminiFinishReason("SAFETY", true).reason).toBe("content_filter");
  });
});

describe("unknown finish reasons become other, with the vendor's word kept", () => {
  const unknownOpenAI = ["insufficient_system_resource", "abort", "NEW_REASON"];
  const unknownAnthropic = ["pause_turn", "NEW_REASON"];
  const unknownGemini = ["OTHER", "FINISH_REASON_UNSPECIFIED", "LANGUAGE", "UNEXPECTED_TOOL_CALL"];

  it.each(unknownOpenAI)("OpenAI %s: whole, streamed and passed through", (raw) => {
    const expected = { reason: "other", vendorReason: raw };
    const whole = fromOpenAIChatCompletion(openAIAnswer(raw));
    expect({ reason: whole.finishReason, vendorReason: whole.vendorFinishReason }).toEqual(
      expected,
    );
    const chunk = `data: ${JSON.stringify({ id: "c", model: "m", choices: [{ index: 0, delta: {}, finish_reason: raw }] })}\n\n`;
    expect(finishOf(new OpenAIStreamDecoder().push(chunk))).toEqual(expected);
    expect(adapterFor("openai").passThrough?.finishOf(openAIAnswer(raw))).toEqual(expected);
  });

  it.each(unknownAnthropic)("Anthropic %s: whole, streamed and passed through", (raw) => {
    const expected = { reason: "other", vendorReason: raw };
    const whole = fromAnthropicMessage(anthropicAnswer(raw));
    expect({ reason: whole.finishReason, vendorReason: whole.vendorFinishReason }).toEqual(
      expected,
    );
    const frame = `event: message_delta\ndata: ${JSON.stringify({ type: "message_delta", delta: { stop_reason: raw }, usage: { output_tokens: 3 } })}\n\n`;
    expect(finishOf(new AnthropicStreamDecoder().push(frame))).toEqual(expected);
    expect(adapterFor("anthropic").passThrough?.finishOf(anthropicAnswer(raw))).toEqual(expected);
  });

  it.each(unknownGemini)("Gemini %s: whole and streamed", (raw) => {
    const expected = { reason: "other", vendorReason: raw };
    const whole = fromGeminiResponse(geminiAnswer(raw));
    expect({ reason: whole.finishReason, vendorReason: whole.vendorFinishReason }).toEqual(
      expected,
    );
    const chunk = `data: ${JSON.stringify(geminiAnswer(raw))}\n\n`;
    expect(finishOf(new GeminiStreamDecoder().push(chunk))).toEqual(expected);
  });

  it("a whole answer without a finish reason is other with none kept, never stop", () => {
    expect(fromOpenAIChatCompletion(openAIAnswer(null))).toMatchObject({
      finishReason: "other",
      vendorFinishReason: null,
    });
    expect(fromAnthropicMessage(anthropicAnswer(null))).toMatchObject({
      finishReason: "other",
      vendorFinishReason: null,
    });
    expect(fromGeminiResponse(geminiAnswer(undefined))).toMatchObject({
      finishReason: "other",
      vendorFinishReason: null,
    });
  });

  it("a prompt Gemini blocked is content_filter, its block reason kept", () => {
    expect(
      fromGeminiResponse({ promptFeedback: { blockReason: "PROHIBITED_CONTENT" } }),
    ).toMatchObject({
      finishReason: "content_filter",
      vendorFinishReason: "PROHIBITED_CONTENT",
    });
  });

  it("a reason that is not a short word is kept by its kind only, never as text", () => {
    const echoed = "the patient John Smith has HIV, stop";
    expect(mapOpenAIFinishReason(echoed)).toEqual({
      reason: "other",
      vendorReason: `(a string of ${echoed.length} characters)`,
    });
    expect(vendorFinishReasonOf("x".repeat(65))).toBe("(a string of 65 characters)");
    expect(vendorFinishReasonOf(7)).toBe("(number 7)");
    expect(vendorFinishReasonOf({ reason: "stop" })).toBe("(an object)");
    expect(vendorFinishReasonOf(["stop"])).toBe("(an array)");
  });
});
