/**
 * The summary's failure groups as the ledger backends build them from their stored rows: a group's
 * name, message, code, kind and rule come from its first failure, and each of its message templates
 * is listed with its count and sample keys. Each backend queries its own tables (the same columns);
 * what a group says is decided here.
 */
import { maskMessage } from '../policy/fingerprint.js';
import type { SerializedError } from '../policy/serialize-error.js';
import type { ErrorGroup } from './ledger.js';
import { parseJson } from './row-codec.js';

type Row = Record<string, unknown>;

/** Templates listed under each of the summary's top error groups. */
export const TEMPLATES_PER_GROUP = 3;

/** The error group whose stored figures are `group` (fingerprint, count), `first` its first failure's row. */
export function toErrorGroup(
  group: { readonly fingerprint?: unknown; readonly count?: unknown },
  first: Row | undefined,
  sampleKeys: string[],
  templates: readonly { template: string; count: number; sampleKeys: string[] }[],
): ErrorGroup {
  const error = JSON.parse(String(first?.error ?? '{}')) as SerializedError;
  return {
    fingerprint: String(group.fingerprint ?? ''),
    name: error.name ?? 'Error',
    message: error.message ?? '',
    ...(error.code !== undefined ? { code: error.code } : {}),
    ...(typeof first?.kind === 'string' ? { kind: first.kind } : {}),
    ...(typeof first?.rule === 'string' ? { rule: first.rule } : {}),
    count: Number(group.count),
    sampleKeys,
    templates: [...templates],
  };
}

/**
 * What stands in for the template of rows written before templates were stored: the message of the
 * template's first failure (`row`), masked as a template is.
 */
export function maskedMessageOf(row: Row | undefined): string {
  const error = parseJson<{ message?: unknown }>(typeof row?.error === 'string' ? row.error : undefined);
  return maskMessage(typeof error?.message === 'string' ? error.message : '');
}
