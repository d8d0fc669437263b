import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson, promptSha256 } from "./prompt-hash.ts";

describe("the prompt hash", () => {
  it("writes canonical JSON: keys sorted at every depth, no whitespace", () => {
    expect(
      canonicalJson({ b: [{ z: 1, a: "é\n" }, null, true], a: { d: 2.5, c: undefined } }),
    ).toBe('{"a":{"d":2.5},"b":[{"a":"é\\n","z":1},null,true]}');
  });

  it("hashes the same conversation the same whatever its key order, model or parameters", () => {
    const first = promptSha256("openai", {
      model: "fast",
      temperature: 0.2,
      messages: [{ role: "user", content: "hi" }],
    });
    const second = promptSha256("openai", {
      messages: [{ content: "hi", role: "user" }],
      model: "smart",
    });
    expect(first).toBe(second);
    expect(first).toBe(
      createHash("sha256").update('{"messages":[{"content":"hi","role":"user"}]}').digest("hex"),
    );
    expect(promptSha256("openai", { messages: [{ role: "user", content: "hi!" }] })).not.toBe(
      first,
    );
  });

  it("includes Anthropic's system prompt, and hashes embeddings' input", () => {
    const messages = [{ role: "user", content: "hi" }];
    expect(promptSha256("anthropic", { messages })).toBe(promptSha256("openai", { messages }));
    expect(promptSha256("anthropic", { messages, system: "Be brief." })).toBe(
      createHash("sha256")
        .update('{"messages":[{"content":"hi","role":"user"}],"system":"Be brief."}')
        .digest("hex"),
    );
    expect(promptSha256("embeddings", { model: "e", input: ["a", "b"] })).toBe(
      createHash("sha256").update('{"input":["a","b"]}').digest("hex"),
    );
  });
});
