import { readFileSync } from "node:fs";
import { countTokens } from "gpt-tokenizer";
import { describe, expect, it } from "vitest";
import { countTokensLinear, MAX_COUNTED_CHARACTERS, MAX_RUN, TokenCounter } from "./token-count.ts";
import { estimateUsage } from "./usage-estimate.ts";

// Found by the fuzz suite (test/fuzz): a prompt of one long word stalled the
// event loop whenever its usage was estimated (a vendor sending none, or usage
// outside the contract, or a stream cut short): gpt-tokenizer took 5 s on
// 100,000 `x`s and 31 s on 100,000 CJK characters.

/** Far under the seconds each took before, far over what each takes now, even on a loaded machine. */
const STALL_MS = 250;

function timed<T>(work: () => T): { result: T; ms: number } {
  const started = performance.now();
  const result = work();
  return { result, ms: performance.now() - started };
}

const random = (length: number, alphabet: string) =>
  Array.from({ length }, (_, index) => alphabet[(index * 7919 + 13) % alphabet.length]).join("");

describe("token counts for usage estimates", () => {
  it("a text with no word boundary is counted in milliseconds, not seconds", () => {
    countTokens("warm up");
    const texts = {
      letters: "x".repeat(100_000),
      spaces: " ".repeat(100_000),
      newlines: "\n".repeat(100_000),
      punctuation: "!".repeat(100_000),
      cjk: "漢".repeat(100_000),
      mixedLetters: random(100_000, "abcdefghijklmnopqrstuvwxyz"),
      randomCjk: random(1_000_000, "漢字我们的网关记录每一次请求费用"),
    };
    for (const [name, text] of Object.entries(texts)) {
      const { ms } = timed(() => countTokensLinear(text));
      expect(ms, name).toBeLessThan(STALL_MS);
    }
  });

  it("an estimate of a prompt of 8 MB without a space takes milliseconds", () => {
    const prompt = "y".repeat(8 * 1024 * 1024);
    const { result, ms } = timed(() =>
      estimateUsage(
        {
          model: "m",
          system: [],
          messages: [{ role: "user", parts: [{ type: "text", text: prompt }] }],
          tools: [],
          stream: false,
          inbound: "openai",
          passthrough: {},
        },
        "漢".repeat(1_000_000),
      ),
    );
    expect(ms).toBeLessThan(STALL_MS);
    expect(result.inputTokens).toBeGreaterThan(0);
    expect(result.outputTokens).toBeGreaterThan(0);
  });

  it("ordinary text is counted exactly as the tokenizer counts it", () => {
    // The README's lines without a run of MAX_RUN characters between spaces (a table rule, a URL).
    const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")
      .split("\n")
      .filter((line) => line.split(" ").every((word) => word.length < MAX_RUN - 16))
      .join("\n");
    for (const text of [
      readme,
      "The capital of France is Paris.  Two spaces, then\ttabs\nand newlines.",
      "我们的网关记录每一次请求的费用。",
      "hello 世界 ".repeat(500),
      "it's 12345 o'clock, isn't it? Numbers: 3.14159, 2,718.",
    ]) {
      expect(countTokensLinear(text)).toBe(countTokens(text));
    }
  });

  it("a run longer than MAX_RUN costs at most one token more per cut", () => {
    for (const text of ["x".repeat(1000), "漢".repeat(1000), "😀".repeat(1000)]) {
      const exact = countTokens(text);
      const counted = countTokensLinear(text);
      expect(counted).toBeGreaterThanOrEqual(exact);
      expect(counted).toBeLessThanOrEqual(exact + Math.ceil(text.length / MAX_RUN));
    }
  });

  it("past its budget, a counter extrapolates at the rate it counted", () => {
    const sentence = "the patient was stable and went home on the third day. ";
    const repeats = Math.ceil((4 * MAX_COUNTED_CHARACTERS) / sentence.length);
    const text = sentence.repeat(repeats);
    const exact = countTokens(text);
    expect(Math.abs(countTokensLinear(text) - exact) / exact).toBeLessThan(0.01);
    // One budget for every text a counter is given: the second is extrapolated.
    const counter = new TokenCounter();
    counter.count(text);
    const extrapolated = counter.count("x".repeat(1000));
    expect(Math.abs(extrapolated - 1000 * (exact / text.length))).toBeLessThan(5);
  });
});
