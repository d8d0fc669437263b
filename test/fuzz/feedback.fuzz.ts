// POST /v1/feedback: scores for the caller's own requests, another tenant's,
// unknown ids and ids that are not ids, with values of every form, under
// either API's key header. Beside the gateway's common properties: never a
// 5xx (no vendor is involved); a 202 publishes exactly one quality_scored, for
// the caller's own request and carrying that request; nothing else publishes
// one; another tenant's request is answered byte for byte like an unknown one.
import fc from "fast-check";
import { newEventId } from "../../events/ids.ts";
import type { QualityScored, RequestCompleted } from "../../events/schemas.ts";
import {
  type Auth,
  auth,
  type Body,
  body,
  bodyText,
  bodyValue,
  contentType,
  type Edit,
  tenantOf,
} from "./client-requests.ts";
import { exchange, type GatewayUnderTest, startGatewayUnderTest } from "./gateway-harness.ts";
import { PROMPT_MARKER } from "./markers.ts";
import { headersOf, statusStats } from "./openai-chat.fuzz.ts";
import type { FuzzTarget, Violation } from "./runner.ts";
import type { VendorPlan } from "./vendor-replies.ts";

export interface FeedbackCase {
  auth: Auth;
  contentType: string | null;
  body: Body;
}

/** A plain successful answer, so each setup request is completed and remembered. */
const ANSWERED: VendorPlan = {
  replies: [
    {
      kind: "answer",
      text: "Paris.",
      toolCalls: [],
      reasoning: null,
      finish: { kind: "known", index: 0, text: "" },
      model: null,
      usage: {
        shape: "object",
        counters: [
          { kind: "count", value: 12 },
          { kind: "count", value: 3 },
          { kind: "absent" },
          { kind: "absent" },
          { kind: "count", value: 15 },
          { kind: "absent" },
        ],
        notObject: null,
      },
      deltaUsage: { shape: "absent", counters: [], notObject: null },
      body: "valid",
      cutAt: 1,
      stream: {
        pieces: 1,
        errorFrameAt: null,
        mutations: [],
        cutAt: null,
        end: "clean",
        writes: [],
      },
      echoKey: false,
    },
  ],
};

/** Requests each tenant completed before the run, through the gateway, with their completions. */
async function completedRequests(
  harness: GatewayUnderTest,
  key: "a" | "b",
  count: number,
): Promise<RequestCompleted[]> {
  const completions: RequestCompleted[] = [];
  for (let index = 0; index < count; index++) {
    const { exchange: done } = await exchange(
      harness,
      {
        url: "/v1/chat/completions",
        headers: headersOf({ auth: key, contentType: "application/json", task: null }),
        payload: JSON.stringify({
          model: index % 2 ? "to-anthropic" : "to-openai",
          messages: [{ role: "user", content: `${PROMPT_MARKER} question ${index}` }],
        }),
        api: "openai",
        streamed: false,
      },
      ANSWERED,
    );
    if (!done.completion)
      throw new Error(`setup request ${index} of tenant ${key} was not completed`);
    completions.push(done.completion);
  }
  return completions;
}

const value = fc.oneof(
  fc.boolean(),
  fc.constantFrom("good", "bad", "needs-work"),
  fc.constantFrom("good", "bad").map((category) => ({ category })),
  fc
    .tuple(fc.integer({ min: 1, max: 4 }), fc.double({ min: 0, max: 1, noNaN: true }))
    .map(([number, fraction]) => ({ number: number + fraction, minimum: 1, maximum: 5 })),
  fc.constant({ type: "boolean", boolean: true }),
  fc.constant({ type: "number", number: 4, minimum: 1, maximum: 5 }),
  fc.constant({ type: "category", category: "good" }),
);

const comment = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.constantFrom('=HYPERLINK("http://x","y")', "+1", "@SUM(A1)", "\tx", "-2"),
);

/** Values the feedback API must refuse with a 400. */
const FEEDBACK_INVALID_EDITS: Edit[] = [
  [["request_id"], ""],
  [["request_id"], 5],
  [["request_id"], "x".repeat(10_000)],
  [["metric"], "Not A Metric"],
  [["metric"], ""],
  [["metric"], "m".repeat(65)],
  [["value"], { number: 6, minimum: 1, maximum: 5 }],
  [["value"], { number: 1, minimum: 5, maximum: 1 }],
  [["value"], { number: 1e308, minimum: 1, maximum: 5 }],
  [["value"], { category: "Bad Category" }],
  [["value"], [true]],
  [["value"], null],
  [["value"], undefined],
  [["source"], "robot"],
  [["gold_set_name"], "gold"],
  [["comment"], "c".repeat(100_000)],
  [["extra"], PROMPT_MARKER],
];

export const feedbackTarget: FuzzTarget<FeedbackCase> = {
  api: "feedback",
  async start() {
    const harness = await startGatewayUnderTest();
    const own = await completedRequests(harness, "a", 12);
    const others = await completedRequests(harness, "b", 6);
    const ownerOf = new Map([...own, ...others].map((each) => [each.request_id, each]));
    const requestId = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...own.map((each) => each.request_id)) },
      { weight: 3, arbitrary: fc.constantFrom(...others.map((each) => each.request_id)) },
      fc.constantFrom("req_00000000000000000000000000000000", "req_nope", newEventId()),
    );
    const feedbackBody = fc.record(
      {
        request_id: requestId,
        metric: fc.constantFrom("helpful", "thumbs", "accuracy", "quality.v2"),
        value,
        source: fc.constantFrom("human", "eval", "heuristic"),
        comment,
      },
      { requiredKeys: ["request_id", "metric", "value"] },
    );
    return {
      arbitrary: fc.record({
        auth,
        contentType,
        body: body(
          feedbackBody,
          `{"request_id":"${own[0]?.request_id}","metric":"helpful","value":true`,
          FEEDBACK_INVALID_EDITS,
        ),
      }),
      async check(input) {
        const call = {
          url: "/v1/feedback",
          headers: headersOf({ ...input, task: null }),
          payload: bodyText(input.body),
          api: "openai" as const,
          streamed: false,
          routed: false,
        };
        const { exchange: done, violations } = await exchange(harness, call, { replies: [] });
        const status = done.response.statusCode;
        if (status >= 500)
          violations.push({
            property: "no_5xx",
            detail: `${status}: ${done.response.body.slice(0, 300)}`,
          });
        const sent = bodyValue(input.body) as { request_id?: unknown } | undefined;
        const scored = done.events.filter(
          (event): event is QualityScored => event.event_type === "quality_scored",
        );
        const caller = tenantOf(input.auth, "anthropic");
        const target =
          typeof sent?.request_id === "string" ? ownerOf.get(sent.request_id) : undefined;
        violations.push(...scoreViolations(status, done.response.body, scored, caller, target));
        if (target && caller && target.tenant_id !== caller && status !== 400) {
          violations.push(
            ...(await answeredLikeUnknown(
              harness,
              call,
              sent as Record<string, unknown>,
              done.response.body,
              status,
            )),
          );
        }
        return violations;
      },
      stats: () => statusStats(harness),
      stop: () => harness.stop(),
    };
  },
};

/** A 202 is one quality_scored for the caller's own request, carrying it; anything else publishes none. */
function scoreViolations(
  status: number,
  answer: string,
  scored: QualityScored[],
  caller: string | null,
  target: RequestCompleted | undefined,
): Violation[] {
  const violate = (detail: string): Violation[] => [
    { property: "score_once_for_own_request", detail },
  ];
  if (status !== 202) {
    return scored.length === 0
      ? []
      : violate(`answered ${status} yet published ${scored.length} quality_scored`);
  }
  if (scored.length !== 1) return violate(`answered 202 with ${scored.length} quality_scored`);
  const event = scored[0] as QualityScored;
  if (!target || target.tenant_id !== caller) {
    return violate(
      `answered 202 for a request not the caller's (${caller} scored ${event.request_id})`,
    );
  }
  const eventId = (JSON.parse(answer) as { event_id?: unknown }).event_id;
  const carried = event.scored_request;
  if (
    eventId !== event.event_id ||
    event.tenant_id !== caller ||
    event.request_id !== target.request_id ||
    carried?.vendor !== target.vendor ||
    carried?.model !== target.model ||
    carried?.key_id !== target.key_id
  ) {
    return violate(`the score does not carry its request: ${JSON.stringify(event).slice(0, 400)}`);
  }
  return [];
}

/** Another tenant's request id must be answered exactly as an id nobody has. */
async function answeredLikeUnknown(
  harness: GatewayUnderTest,
  call: Parameters<typeof exchange>[1],
  sent: Record<string, unknown>,
  answer: string,
  status: number,
): Promise<Violation[]> {
  const unknownId = `req_${newEventId().replaceAll("-", "")}`;
  const { exchange: twin } = await exchange(
    harness,
    { ...call, payload: JSON.stringify({ ...sent, request_id: unknownId }) },
    { replies: [] },
  );
  const normalise = (text: string, id: string) => text.replaceAll(id, "<id>");
  if (
    twin.response.statusCode === status &&
    normalise(twin.response.body, unknownId) === normalise(answer, String(sent.request_id))
  ) {
    return [];
  }
  return [
    {
      property: "other_tenant_like_unknown",
      detail: `another tenant's id: ${status} ${answer.slice(0, 200)}; an unknown id: ${twin.response.statusCode} ${twin.response.body.slice(0, 200)}`,
    },
  ];
}
