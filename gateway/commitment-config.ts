// A committed spend on a contract: the customer promises to spend `amount`
// with the vendor between term_start and term_end. The gateway does not act
// on it; the analytics API (GET /v1/commitments) measures the ledger against it.
import { z } from "zod";
import { instant, instantMs } from "./pricing.ts";

/** Currencies a commitment may be in. Only USD until currency conversion is built. */
export const COMMITMENT_CURRENCIES = ["USD"] as const;

export const commitmentConfig = z
  .object({
    amount: z
      .string()
      .regex(/^\d+(\.\d{1,18})?$/, 'an exact decimal string such as "100000" or "2500.50"')
      .describe("the committed spend over the term"),
    currency: z
      .string()
      .refine((currency) => (COMMITMENT_CURRENCIES as readonly string[]).includes(currency), {
        message:
          'commitment currency must be "USD": the ledger records cost in USD and currency conversion is not built yet',
      })
      .describe('the commitment\'s currency; only "USD" for now'),
    term_start: instant.describe("inclusive: 2026-01-01 is midnight UTC"),
    term_end: instant.describe("exclusive"),
    models: z
      .union([z.literal("all"), z.array(z.string().min(1)).min(1)])
      .default("all")
      .describe('what counts toward it: "all" of the vendor\'s models, or a list of model names'),
  })
  .strict()
  .refine((commitment) => instantMs(commitment.term_end) > instantMs(commitment.term_start), {
    message: "term_end must be after term_start",
    path: ["term_end"],
  });

export type CommitmentConfig = z.output<typeof commitmentConfig>;
