/**
 * Text made safe for HTML. Keys and messages come from input files and remote services: one that
 * contains `<script>` or a quote must show as text, never become markup. Every value the report and
 * the dashboard put into a page goes through `html` (text and attribute values alike).
 */

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** `text` with the five characters that can end text or an attribute value replaced by entities. */
export function html(text: string | number): string {
  return String(text).replace(/[&<>"']/g, (char) => ENTITIES[char] ?? char);
}
