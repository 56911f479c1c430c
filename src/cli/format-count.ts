/**
 * Thousands separators for the CLI's figures. Not Intl.NumberFormat: creating the first one loads
 * ICU data, ~20 ms of every CLI start for a comma.
 */

/** `1234567.5` → `"1,234,567.5"`; at most three decimals, like `Intl.NumberFormat('en-US')`. */
export function formatCount(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const [whole = '', fraction] = String(Math.round(value * 1000) / 1000).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}
