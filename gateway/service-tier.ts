// Which service tier served a request, and so which of its price card's
// rates bill it (pricing.ts): the tier the vendor's answer names wins; else
// the one the client asked for, when it named one; else standard.
import { SERVICE_TIERS, type ServiceTier } from "../events/schemas.ts";
import type { ServedTier } from "./request-ledger.ts";

/**
 * Vendors' words for a tier, in requests and answers, and the tier each is
 * billed at. OpenAI answers `default`, `flex`, `priority` (or `scale`, its
 * reserved capacity, which no per-token card expresses); Anthropic answers
 * `standard`, `priority` or `batch` in `usage.service_tier`. Requests may say
 * `auto` (OpenAI, Anthropic), which names no tier until the answer does, and
 * Anthropic's `standard_only`.
 */
const TIER_WORDS: Record<string, ServiceTier> = {
  default: "standard",
  standard: "standard",
  standard_only: "standard",
  batch: "batch",
  flex: "flex",
  priority: "priority",
};

/** Words that name no tier, on purpose: the answer will. */
const UNDECIDED_WORDS = new Set(["auto"]);

function tierOfWord(word: string): ServiceTier | undefined {
  return Object.hasOwn(TIER_WORDS, word) ? TIER_WORDS[word] : undefined;
}

/**
 * The tier a client asked for in its body's `service_tier` (OpenAI chat,
 * Anthropic Messages), or null when it named none (absent, `auto`, or a word
 * no tier answers to, which the vendor will judge).
 */
export function requestedServiceTier(body: unknown): ServiceTier | null {
  const word = (body as { service_tier?: unknown } | null)?.service_tier;
  if (typeof word !== "string" || UNDECIDED_WORDS.has(word)) return null;
  return tierOfWord(word) ?? null;
}

/**
 * The tier a request is billed at: the vendor's word when it gave one the
 * price card can express; else the tier asked for; else standard. A word it
 * gave that names no tier (OpenAI's `scale`, a new one) is kept as the
 * vendor's word and billed at the fallback, with a warning saying so.
 */
export function servedTier(requested: ServiceTier | null, vendorWord: string | null): ServedTier {
  const fallback = requested ?? "standard";
  if (vendorWord === null) return { tier: fallback, vendorWord: null };
  const word = vendorWord.slice(0, MAX_VENDOR_WORD_LENGTH);
  const tier = tierOfWord(word);
  if (tier) return { tier, vendorWord: word };
  return {
    tier: fallback,
    vendorWord: word,
    warning: `the vendor says service tier "${word}" served this request, which no price card tier (${SERVICE_TIERS.join(", ")}) expresses: billed at ${fallback}`,
  };
}

/** request_completed v4 bounds vendor_service_tier (events/schemas.ts). */
const MAX_VENDOR_WORD_LENGTH = 64;
