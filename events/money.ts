// Exact money: USD amounts are decimal strings on the wire and scaled BigInts in
// arithmetic, never binary floating point. Scale 18 holds a per-token price
// derived from a per-million price with up to 12 decimals, so
// tokens × price is exact.
export const MONEY_SCALE = 18;
const SCALE_FACTOR = 10n ** BigInt(MONEY_SCALE);
const DECIMAL_PATTERN = /^(-?)(\d+)(?:\.(\d+))?$/;

/** A non-negative decimal string such as "0.15" or "12"; no exponent, no sign. */
export const DECIMAL_STRING_PATTERN = /^\d+(\.\d+)?$/;

/** Parses a decimal string into a BigInt scaled by 10^scale; throws when digits would be lost. */
export function parseDecimal(text: string, scale = MONEY_SCALE): bigint {
  const match = DECIMAL_PATTERN.exec(text.trim());
  if (!match) throw new Error(`not a decimal number: "${text}"`);
  const [, sign, whole = "0", fraction = ""] = match;
  const significantFraction = fraction.replace(/0+$/, "");
  if (significantFraction.length > scale) {
    throw new Error(`"${text}" has more than ${scale} decimal places`);
  }
  const scaled = BigInt(whole + significantFraction.padEnd(scale, "0"));
  return sign === "-" ? -scaled : scaled;
}

/** Formats a scaled BigInt as the shortest exact decimal string ("0.000123", "2", "-1.5"). */
export function formatDecimal(value: bigint, scale = MONEY_SCALE): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(scale + 1, "0");
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, "");
  return `${negative ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
}

/** Rewrites any exact decimal string in its shortest form ("1.500" → "1.5"). */
export function normalizeDecimal(text: string): string {
  return formatDecimal(parseDecimal(text, 38), 38);
}

/** Divides a price quoted per `unit` items (1,000,000 for per-million-token prices) down to per item, exactly. */
export function perUnitPrice(pricePerUnit: string, unit: number): string {
  const scaled = parseDecimal(pricePerUnit, 38);
  const divisor = BigInt(unit);
  if (scaled % divisor !== 0n)
    throw new Error(`${pricePerUnit} / ${unit} is not exact at 38 places`);
  return formatDecimal(scaled / divisor, 38);
}

export const scaleFactor = SCALE_FACTOR;
