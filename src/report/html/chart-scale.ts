/** Axis and number formatting shared by the report's SVG charts. */

/** A round axis maximum at or above `value` (1, 2 or 5 times a power of ten). */
export function niceMax(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

/** A coordinate with one decimal: enough for a screen, and a stable text to compare in tests. */
export function fixed(value: number): string {
  return value.toFixed(1);
}

/** A figure for an axis label: thousands separated, one decimal below 10. */
export function formatNumber(value: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: value < 10 ? 1 : 0 });
}
