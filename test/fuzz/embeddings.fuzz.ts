// POST /v1/embeddings against a fake OpenAI vendor (routes whose candidates
// have no embeddings API are refused or skipped), with texts, token arrays and
// any JSON at any place of the body.
import fc from "fast-check";
import type { Auth, Body } from "./client-requests.ts";
import { auth, body, bodyText, contentType, type Edit, promptText } from "./client-requests.ts";
import { exchange, startGatewayUnderTest } from "./gateway-harness.ts";
import { PROMPT_MARKER } from "./markers.ts";
import { headersOf, statusStats, taskHeader, UNKNOWN_MODELS } from "./openai-chat.fuzz.ts";
import type { FuzzTarget } from "./runner.ts";
import { type VendorPlan, vendorPlan } from "./vendor-replies.ts";

const tokens = fc.array(fc.nat({ max: 200_000 }), { minLength: 1, maxLength: 50 });

export const embeddingsBody = fc.record(
  {
    model: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom("to-openai", "failover") },
      fc.constant("vo/m-openai"),
    ),
    input: fc.oneof(
      { weight: 3, arbitrary: promptText },
      fc.array(promptText, { minLength: 1, maxLength: 4 }),
      tokens,
      fc.array(tokens, { minLength: 1, maxLength: 3 }),
    ),
    encoding_format: fc.constantFrom("float", "base64"),
    dimensions: fc.integer({ min: 1, max: 3072 }),
    user: fc.constant(`user-${PROMPT_MARKER}`),
  },
  { requiredKeys: ["model", "input"] },
);

/** Values the embeddings API must refuse: with a 400, or (no candidate embeds) unsupported_by_vendor. */
export const EMBEDDINGS_INVALID_EDITS: Edit[] = [
  ...UNKNOWN_MODELS.map((model): Edit => [["model"], model]),
  [["model"], "to-anthropic"],
  [["model"], "to-gemini"],
  [["input"], []],
  [["input"], [-1]],
  [["input"], [[]]],
  [["input"], [1.5]],
  [["input"], Array(2049).fill("a")],
  [["input"], null],
  [["encoding_format"], "hex"],
  [["dimensions"], 0],
  [["dimensions"], -5],
];

export interface EmbeddingsCase {
  auth: Auth;
  contentType: string | null;
  task: string | null;
  body: Body;
  vendor: VendorPlan;
}

export const embeddingsTarget: FuzzTarget<EmbeddingsCase> = {
  api: "embeddings",
  async start() {
    const harness = await startGatewayUnderTest();
    return {
      arbitrary: fc.record({
        auth,
        contentType,
        task: taskHeader,
        body: body(
          embeddingsBody,
          `{"model":"to-openai","input":"${PROMPT_MARKER}"`,
          EMBEDDINGS_INVALID_EDITS,
        ),
        vendor: vendorPlan,
      }),
      async check(input) {
        const { violations } = await exchange(
          harness,
          {
            url: "/v1/embeddings",
            headers: headersOf(input),
            payload: bodyText(input.body),
            api: "openai",
            streamed: false,
          },
          input.vendor,
        );
        return violations;
      },
      stats: () => statusStats(harness),
      stop: () => harness.stop(),
    };
  },
};
