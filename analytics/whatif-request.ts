// The body of POST /v1/whatif: a period, and moves of a share of one task's
// traffic from one vendor-model to another, optionally at a price of the
// caller's (another contract).
import { z } from "zod";
import { parseDecimal, scaleFactor } from "../events/money.ts";
import { dimensionValue, isoDateTime } from "./parameters.ts";

const candidate = z.object({ vendor: dimensionValue, model: dimensionValue });

/**
 * A non-negative exact decimal as the ledger keeps money: at most 18 places
 * (its scale) and 20 whole digits, no sign, no exponent ("1e3" is refused,
 * never read as 1000). Bounded so a figure of thousands of digits cannot be
 * multiplied through the answer.
 */
const EXACT_DECIMAL = /^\d{1,20}(\.\d{1,18})?$/;
const decimal = z
  .string()
  .max(64)
  .regex(
    EXACT_DECIMAL,
    'a decimal string such as "0.15": digits, at most 20 before the point and 18 after, no exponent',
  );

/** The decimal scaled to the ledger's 18 places, or null when it is not one (already reported). */
function scaledOrNull(text: unknown): bigint | null {
  return typeof text === "string" && EXACT_DECIMAL.test(text) ? parseDecimal(text) : null;
}

export const whatIfMove = z
  .object({
    task: dimensionValue.describe("the task class whose traffic moves"),
    from: candidate.describe("where the traffic went"),
    to: candidate.describe("where it would go; the same as from to re-price under a new contract"),
    share: decimal
      .default("1")
      .describe('the part of from\'s traffic on this task that moves, (0, 1], e.g. "0.25"'),
    price: z
      .object({
        input: decimal.describe("USD per million input tokens"),
        cached_input: decimal
          .optional()
          .describe("USD per million cached input tokens (default: input)"),
        output: decimal.describe("USD per million output tokens"),
      })
      .optional()
      .describe("the target's price; default: its observed cost per request on this task"),
  })
  .refine(
    (move) => {
      const share = scaledOrNull(move.share);
      // Not a decimal at all: the field's own issue says so.
      return share === null || (share > 0n && share <= scaleFactor);
    },
    { message: "share must be above 0 and at most 1", path: ["share"] },
  )
  .refine(
    (move) =>
      // A from or to that is missing has an issue of its own.
      move.price !== undefined ||
      move.from?.vendor !== move.to?.vendor ||
      move.from?.model !== move.to?.model,
    { message: "re-pricing a candidate in place needs a price", path: ["price"] },
  );

export const whatIfRequest = z
  .object({
    from: isoDateTime
      .optional()
      .describe("start of the observed period (default: to less 30 days)"),
    to: isoDateTime.optional().describe("end of the observed period, exclusive (default: now)"),
    tenant: z
      .array(dimensionValue)
      .min(1)
      .max(1000)
      .optional()
      .describe("only these tenants' traffic"),
    moves: z.array(whatIfMove).min(1).max(50),
  })
  .strict()
  .superRefine((request, context) => {
    // One task's traffic on one candidate can move away at most once in full.
    const moved = new Map<string, bigint>();
    if (!Array.isArray(request.moves)) return;
    request.moves.forEach((move, index) => {
      const share = scaledOrNull(move?.share);
      if (share === null || !move.from) return; // the move's own issues say what is wrong
      const key = JSON.stringify([move.task, move.from.vendor, move.from.model]);
      const total = (moved.get(key) ?? 0n) + share;
      moved.set(key, total);
      if (total > scaleFactor) {
        context.addIssue({
          code: "custom",
          path: ["moves", index, "share"],
          message: `more than all of ${move.from.vendor}/${move.from.model}'s ${move.task} traffic would move`,
        });
      }
    });
  });

export type WhatIfRequest = z.output<typeof whatIfRequest>;
export type WhatIfMove = WhatIfRequest["moves"][number];
