/** Axis and number formatting shared by the report's SVG charts. */
import { html } from './escape.js';

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

/** Where a chart's plot area lies in its SVG, and the labels at the tops of its two vertical axes. */
export interface ChartFrame {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
  /** The left axis's top label (its bottom is 0). */
  readonly leftTop: string;
  /** The right axis's top label, and its bottom one when it has one. */
  readonly rightTop: string;
  readonly rightBottom?: string;
}

/** The base line, the two vertical axes and their labels, which every chart of the report draws alike. */
export function chartAxes(f: ChartFrame): string {
  const right = f.left + f.width;
  const base = f.top + f.height;
  return [
    `<line class="axis" x1="${f.left}" y1="${base}" x2="${right}" y2="${base}"/>`,
    `<line class="axis" x1="${f.left}" y1="${f.top}" x2="${f.left}" y2="${base}"/>`,
    `<line class="axis" x1="${right}" y1="${f.top}" x2="${right}" y2="${base}"/>`,
    `<text class="tick" x="${f.left - 6}" y="${f.top + 4}" text-anchor="end">${html(f.leftTop)}</text>`,
    `<text class="tick" x="${f.left - 6}" y="${base}" text-anchor="end">0</text>`,
    `<text class="tick failed-text" x="${right + 6}" y="${f.top + 4}">${html(f.rightTop)}</text>`,
    ...(f.rightBottom === undefined ? [] : [`<text class="tick failed-text" x="${right + 6}" y="${base}">${html(f.rightBottom)}</text>`]),
  ].join('\n');
}
