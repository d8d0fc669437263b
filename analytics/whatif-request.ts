// The body of POST /v1/whatif: a period, and moves of a share of one task's
// traffic from one vendor-model to another, optionally at a price of the
// caller's (another contract).
import { z } from "zod";
import { DECIMAL_STRING_PATTERN, parseDecimal, scaleFactor } from "../events/money.ts";
import { dimensionValue, isoDateTime } from "./parameters.ts";

const candidate = z.object({ vendor: dimensionValue, model: dimensionValue });

const decimal = z.string().regex(DECIMAL_STRING_PATTERN, 'a decimal string such as "0.15"');

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
      const share = parseDecimal(move.share);
      return share > 0n && share <= scaleFactor;
    },
    { message: "share must be above 0 and at most 1", path: ["share"] },
  )
  .refine(
    (move) =>
      move.price !== undefined ||
      move.from.vendor !== move.to.vendor ||
      move.from.model !== move.to.model,
    { message: "re-pricing a candidate in place needs a price", path: ["price"] },
  );

export const whatIfRequest = z
  .object({
    from: isoDateTime
      .optional()
      .describe("start of the observed period (default: to less 30 days)"),
    to: isoDateTime.optional().describe("end of the observed period, exclusive (default: now)"),
    tenant: z.array(dimensionValue).min(1).optional().describe("only these tenants' traffic"),
    moves: z.array(whatIfMove).min(1).max(50),
  })
  .strict()
  .superRefine((request, context) => {
    // One task's traffic on one candidate can move away at most once in full.
    const moved = new Map<string, bigint>();
    request.moves.forEach((move, index) => {
      const key = JSON.stringify([move.task, move.from.vendor, move.from.model]);
      const total = (moved.get(key) ?? 0n) + parseDecimal(move.share);
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
