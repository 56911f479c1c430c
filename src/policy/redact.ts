/**
 * Redaction of secrets in error messages, stacks and log lines, before anything is stored or
 * printed. Handlers routinely throw errors whose text carries credentials: an HTTP client's message
 * with the full URL (`https://user:password@host/?api_key=…`), a request dump with its
 * `Authorization` header. Once in the ledger, the reports or a CI log, they are out of reach.
 *
 * A pattern replaces its whole match by `[redacted]`, or only its named group `secret` when it has
 * one (so `password=hunter2` keeps saying which parameter it was). Every built-in pattern has bounded
 * quantifiers and starts at a token boundary, so redaction stays linear in the text's length.
 */
import { ConfigError } from '../errors.js';
import { formatValue } from '../validation/check.js';

/** What replaces a secret. Contains no digits, so fingerprint masking leaves it alone. */
export const REDACTED = '[redacted]';

/** Parameter and field names whose value is a secret (matched case-insensitively, with any prefix such as `db_` or `x-`). */
const SECRET_NAME_LIST = String.raw`api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key|[a-z]{0,16}token|passw(?:or)?d|pwd|secret|signature|credentials?|session[_-]?id|auth`;
const SECRET_NAMES = `(?:${SECRET_NAME_LIST})`;

/**
 * Text without a match of this cannot hold a secret name, so the two patterns built on
 * `SECRET_NAMES` cannot match it. They are the costly ones (a lazy prefix tried before every name
 * at every token start: ~25 µs on a 10-frame stack, most of what serialising a failure costs),
 * and stacks and most messages name no secret. The same names, without the optional `[a-z]` prefix
 * of `token`, with the same flags: whatever those patterns match contains a match of this.
 */
const SECRET_NAME_HINT = new RegExp(SECRET_NAME_LIST.replace('[a-z]{0,16}token', 'token'), 'i');

/**
 * Whether a field or header named `name` holds a secret: the name ends with one of the secret names
 * above, or with `cookie` or `authorization` (`password`, `db_password`, `x-api-key`, `accessToken`,
 * `Set-Cookie`, `Proxy-Authorization`). Anchored at the end so that `author` or `tokenCount` stay.
 */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

const SECRET_NAME = new RegExp(`(?:${SECRET_NAMES}|cookie|authorization)$`, 'i');

const URL_PASSWORD = /\b[a-z][a-z0-9+.-]{0,31}:\/\/[^\s:@/?#]{0,256}:(?<secret>[^\s@/?#]{1,1024})@/gi;
const SECRET_PARAMETER = new RegExp(String.raw`(?<![\w.-])[\w.-]{0,32}?${SECRET_NAMES}=(?<secret>[^\s&"'<>;,)]{1,4096})`, 'gi');
const SECRET_FIELD = new RegExp(
  String.raw`(?<![\w.-])["']?[\w.-]{0,32}?${SECRET_NAMES}["']?\s{0,8}:\s{0,8}["'](?<secret>[^"'\r\n]{1,4096})["']`,
  'gi',
);

/**
 * The built-in patterns, in the order they run. Documented in docs/jobs.md (`redact`); a job adds
 * its own with the `redact` option.
 */
export const BUILT_IN_REDACTIONS: readonly RegExp[] = Object.freeze([
  // The password of a URL's user info: scheme://user:password@host
  URL_PASSWORD,
  // Authorization and similar headers, with or without a scheme word before the credential.
  /\b(?:proxy-)?authorization["']?\s{0,8}[:=]\s{0,8}["']?(?:(?:bearer|basic|digest|token|apikey|negotiate)\s{1,8})?(?<secret>[^\s"',;]{1,4096})/gi,
  /\b(?:x-api-key|x-auth-token|api-key|cookie|set-cookie)\s{0,8}:\s{0,8}(?<secret>[^\r\n]{1,4096})/gi,
  // A bearer credential wherever it appears ("Bearer eyJ…"); 8+ characters so prose stays intact.
  /\bbearer\s{1,8}(?<secret>[\w\-.~+/]{8,4096}=*)/gi,
  // Query, form and key=value parameters: api_key=…, access_token=…, password=…, X-Amz-Signature=…
  SECRET_PARAMETER,
  // The same names as quoted JSON or YAML-ish fields: "password": "…"
  SECRET_FIELD,
  // JSON Web Tokens and well-known token formats (GitHub, Slack, OpenAI-style, AWS access key ids).
  /\beyJ[\w-]{5,4096}\.eyJ[\w-]{5,4096}\.[\w-]{0,4096}/g,
  /\b(?:gh[pousr]_[A-Za-z0-9]{20,255}|github_pat_\w{20,255}|xox[abprs]-[\w-]{10,255}|sk-[A-Za-z0-9_-]{20,255}|AKIA[0-9A-Z]{16})\b/g,
]);

/** Replaces secrets in text. Never throws. */
export interface Redactor {
  (text: string): string;
}

/**
 * A redactor running the built-in patterns, then `extra` (the job's `redact` option). Each extra
 * pattern is compiled once, global and with match indices, whatever flags it came with.
 */
export function createRedactor(extra: readonly RegExp[] = []): Redactor {
  const patterns = [...BUILT_IN_REDACTIONS, ...extra].map((p) => ({
    pattern: new RegExp(p.source, withFlags(p.flags)),
    hint: PREFILTERS.get(p),
  }));
  return (text) => {
    let out = text;
    for (const { pattern, hint } of patterns) {
      if (hint === undefined || hint.test(out)) out = redactWith(pattern, out);
    }
    return out;
  };
}

/**
 * Built-in patterns skipped on text where their hint finds nothing, because they cannot match it.
 * The patterns a stack runs into are the costly ones: every frame has a `file://` URL and many
 * token starts, but rarely an `@` or a secret name (see `SECRET_NAME_HINT`).
 */
const PREFILTERS: ReadonlyMap<RegExp, RegExp> = new Map([
  [URL_PASSWORD, /@/],
  [SECRET_PARAMETER, SECRET_NAME_HINT],
  [SECRET_FIELD, SECRET_NAME_HINT],
]);

/** The redactor of a job without its own patterns. */
export const defaultRedactor: Redactor = createRedactor();

function withFlags(flags: string): string {
  let out = flags.replace(/[gyd]/g, '');
  out += 'gd';
  return out;
}

function redactWith(pattern: RegExp, text: string): string {
  let out = '';
  let from = 0;
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    const range = match.indices?.groups?.secret ?? match.indices?.[0];
    if (match[0] === '') {
      pattern.lastIndex++;
      continue;
    }
    if (!range || range[0] < from) continue;
    out += text.slice(from, range[0]) + REDACTED;
    from = range[1];
  }
  return from === 0 ? text : out + text.slice(from);
}

/**
 * Checks the job's `redact` option: an array of regular expressions that do not match the empty
 * string (one that did would put `[redacted]` between every two characters).
 */
export function checkRedactPatterns(value: unknown): readonly RegExp[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new ConfigError(`job.redact must be an array of regular expressions (e.g. [/session=\\w+/]); got ${formatValue(value)}`, {
      field: 'redact',
    });
  }
  return value.map((pattern: unknown, index) => {
    if (!(pattern instanceof RegExp)) {
      throw new ConfigError(`job.redact[${index}] must be a regular expression; got ${formatValue(pattern)}`, {
        field: `redact[${index}]`,
      });
    }
    if (new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')).test('')) {
      throw new ConfigError(`job.redact[${index}] (${String(pattern)}) matches the empty string; it must match only the secret`, {
        field: `redact[${index}]`,
      });
    }
    return pattern;
  });
}
