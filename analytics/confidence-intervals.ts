// 95% confidence intervals for quality scores. Booleans (and each category's
// share) use the Wilson score interval, which stays inside [0, 1] and behaves
// at small counts and at 0% or 100%, unlike the normal approximation. Numbers
// use the mean ± t·s/√n with Student's t at n − 1 degrees of freedom, which
// assumes the mean is roughly normal (fine for bounded scores beyond a few
// dozen; say so when n is small).

/** The two-sided 95% normal critical value. */
export const Z_95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
}

/** Wilson score interval for `successes` out of `trials`; null when there are no trials. */
export function wilsonInterval(successes: number, trials: number, z = Z_95): Interval | null {
  if (trials <= 0) return null;
  const proportion = successes / trials;
  const zSquared = z * z;
  const denominator = 1 + zSquared / trials;
  const center = (proportion + zSquared / (2 * trials)) / denominator;
  const halfWidth =
    (z / denominator) *
    Math.sqrt((proportion * (1 - proportion)) / trials + zSquared / (4 * trials * trials));
  return { low: Math.max(0, center - halfWidth), high: Math.min(1, center + halfWidth) };
}

// Student's t, 97.5th percentile, for 1 … 30 degrees of freedom (standard tables).
const T_975 = [
  12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
  2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.13145, 2.119905, 2.109816, 2.100922, 2.093024,
  2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.04523,
  2.042272,
];

/**
 * The 97.5th percentile of Student's t with `degreesOfFreedom`: the table up
 * to 30, beyond it the Cornish–Fisher expansion around the normal value
 * (error below 1e-5 from 30 degrees of freedom on).
 */
export function studentT975(degreesOfFreedom: number): number {
  if (degreesOfFreedom < 1) throw new Error("Student's t needs at least one degree of freedom");
  const tabled = T_975[degreesOfFreedom - 1];
  if (tabled !== undefined) return tabled;
  const z = Z_95;
  const df = degreesOfFreedom;
  return (
    z +
    (z ** 3 + z) / (4 * df) +
    (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2) +
    (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3)
  );
}

/** mean ± t·s/√n from the sample variance; null below two observations. */
export function studentTInterval(mean: number, sampleVariance: number, count: number) {
  if (count < 2 || !Number.isFinite(sampleVariance)) return null;
  const halfWidth = studentT975(count - 1) * Math.sqrt(sampleVariance / count);
  return { low: mean - halfWidth, high: mean + halfWidth };
}

export interface Sample {
  count: number;
  mean: number;
  sampleVariance: number;
}

/**
 * 95% interval for the difference of two proportions (second − first):
 * Newcombe's hybrid score method, built from each side's Wilson interval, so
 * it behaves at small counts and near 0% or 100% where the normal
 * approximation does not. Null when either side has no trials.
 */
export function newcombeDifferenceInterval(
  first: { successes: number; trials: number },
  second: { successes: number; trials: number },
): Interval | null {
  const firstInterval = wilsonInterval(first.successes, first.trials);
  const secondInterval = wilsonInterval(second.successes, second.trials);
  if (!firstInterval || !secondInterval) return null;
  const p1 = first.successes / first.trials;
  const p2 = second.successes / second.trials;
  const difference = p2 - p1;
  return {
    low: difference - Math.sqrt((p2 - secondInterval.low) ** 2 + (firstInterval.high - p1) ** 2),
    high: difference + Math.sqrt((secondInterval.high - p2) ** 2 + (p1 - firstInterval.low) ** 2),
  };
}

/**
 * 95% interval for the difference of two means (second − first): Welch's t,
 * which does not assume equal variances, with Welch–Satterthwaite degrees of
 * freedom rounded down (conservative). Null below two observations a side.
 */
export function welchDifferenceInterval(first: Sample, second: Sample): Interval | null {
  if (first.count < 2 || second.count < 2) return null;
  const firstTerm = first.sampleVariance / first.count;
  const secondTerm = second.sampleVariance / second.count;
  const standardError = Math.sqrt(firstTerm + secondTerm);
  const difference = second.mean - first.mean;
  if (standardError === 0) return { low: difference, high: difference };
  const degreesOfFreedom =
    (firstTerm + secondTerm) ** 2 /
    (firstTerm ** 2 / (first.count - 1) + secondTerm ** 2 / (second.count - 1));
  const halfWidth = studentT975(Math.max(1, Math.floor(degreesOfFreedom))) * standardError;
  return { low: difference - halfWidth, high: difference + halfWidth };
}
