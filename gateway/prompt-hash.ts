// The opt-in prompt hash (README, "Privacy"). Exactly what is hashed:
//
//   SHA-256, as 64 lowercase hex digits, of the UTF-8 bytes of the
//   canonical JSON of the prompt object of the inbound request:
//     POST /v1/chat/completions  {"messages": <messages>}
//     POST /v1/messages          {"messages": <messages>, "system": <system>}
//                                ("system" left out when the client sent none)
//     POST /v1/embeddings        {"input": <input>}
//   each value exactly as the client sent it. Canonical JSON: object keys
//   sorted by UTF-16 code units at every depth, no whitespace, strings and
//   numbers as JSON.stringify writes them (RFC 8785 for the values clients
//   send). The same conversation sent twice hashes the same whatever its key
//   order or spacing, and model, temperature or tools do not change it.
import { createHash } from "node:crypto";

export type PromptApi = "openai" | "anthropic" | "embeddings";

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    return `[${value.map((item) => (item === undefined ? "null" : canonicalJson(item))).join(",")}]`;
  }
  const record = value as Record<string, unknown>;
  const members = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`);
  return `{${members.join(",")}}`;
}

/** The prompt object of a request body, as the header comment defines it. */
export function promptObjectOf(api: PromptApi, body: Record<string, unknown>): unknown {
  if (api === "embeddings") return { input: body.input };
  if (api === "anthropic") {
    return body.system === undefined
      ? { messages: body.messages }
      : { messages: body.messages, system: body.system };
  }
  return { messages: body.messages };
}

export function promptSha256(api: PromptApi, body: Record<string, unknown>): string {
  return createHash("sha256")
    .update(canonicalJson(promptObjectOf(api, body)), "utf8")
    .digest("hex");
}
