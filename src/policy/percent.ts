/** A share as a percentage for messages and reports: `percent(0.1234)` → `12.3%`, `percent(0.5, 0)` → `50%`. */
export function percent(share: number, decimals = 1): string {
  return `${(share * 100).toFixed(decimals)}%`;
}
