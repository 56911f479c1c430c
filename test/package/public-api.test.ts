/**
 * The public API as the built package publishes it (dist/, built by `npm test` before vitest runs):
 * what each entry point exports at runtime, imported by its package name in a separate Node process
 * (the `exports` map decides, as for a user), the runtime values of the enum-like unions, and no
 * `any` in the declarations a user's compiler reads.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type {
  BreakerOptions,
  ExitCode as ExitCodeType,
  FailureKind as FailureKindType,
  HealthCheck,
  JobOptions,
  JsonlOptions,
  RateLimitOptions,
  RecordStatus as RecordStatusType,
  RetryBudgetOptions,
  RunStatus as RunStatusType,
  Summary,
  TracingOptions,
} from 'batchguard';

const ROOT = resolve(import.meta.dirname, '../..');
const ENTRIES = ['batchguard', 'batchguard/sqlite', 'batchguard/testing'] as const;

/** Each entry's exports (name → typeof, and the value of plain objects), read by a fresh Node process from the package itself. */
function builtExports(): Record<string, Record<string, { type: string; value?: unknown }>> {
  const script = `
    const out = {};
    for (const entry of ${JSON.stringify(ENTRIES)}) {
      const module = await import(entry);
      out[entry] = Object.fromEntries(Object.entries(module).map(([name, value]) => [
        name,
        typeof value === 'object' && value !== null ? { type: 'object', value } : { type: typeof value },
      ]));
    }
    process.stdout.write(JSON.stringify(out));`;
  // A package imports itself by its own name through its `exports` map (Node's self-reference).
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })) as ReturnType<
    typeof builtExports
  >;
}

describe('the public API of the built package', () => {
  const exported = builtExports();

  it('exports these names from each entry point, and nothing else', () => {
    const types = (entry: string) => Object.fromEntries(Object.entries(exported[entry] ?? {}).map(([name, { type }]) => [name, type]));
    expect(types('batchguard')).toEqual({
      BatchguardError: 'function',
      BreakerOpenError: 'function',
      BreakerState: 'object',
      BreakerTripReason: 'object',
      Classification: 'object',
      ConfigError: 'function',
      DependencyFailurePolicy: 'object',
      EngineEventType: 'object',
      ExitCode: 'object',
      FailureKind: 'object',
      FatalError: 'function',
      InvalidUtf8: 'object',
      Jitter: 'object',
      LedgerError: 'function',
      RecordStatus: 'object',
      RetryableError: 'function',
      RunStatus: 'object',
      SinkError: 'function',
      SourceError: 'function',
      StorageError: 'function',
      TimeoutError: 'function',
      circuitBreaker: 'function',
      classify: 'function',
      classifyError: 'function',
      csv: 'function',
      defineJob: 'function',
      fingerprint: 'function',
      fromIterable: 'function',
      isolate: 'function',
      jsonl: 'function',
      jsonlOutput: 'function',
      openLedger: 'function',
      postgresTable: 'function',
      retry: 'function',
      retryPolicy: 'function',
      runJob: 'function',
      serializeError: 'function',
      startRun: 'function',
      systemClock: 'object',
    });
    expect(types('batchguard/sqlite')).toEqual({ openSqliteLedger: 'function' });
    expect(types('batchguard/testing')).toEqual({
      ManualClock: 'function',
      failTimes: 'function',
      failWith: 'function',
      hang: 'function',
      memoryLedger: 'function',
    });
  });

  it('gives the enum-like unions runtime values that match the contract', () => {
    const value = (name: string) => exported['batchguard']?.[name]?.value;
    expect(value('ExitCode')).toEqual({
      ok: 0,
      thresholdExceeded: 1,
      usage: 2,
      aborted: 3,
      ledger: 4,
      deadline: 5,
      uncaughtError: 6,
      exitedMidRun: 7,
      internal: 70,
      sighup: 129,
      sigint: 130,
      sigterm: 143,
    });
    expect(Object.values(value('RecordStatus') as object)).toEqual(['succeeded', 'failed', 'skipped']);
    expect(Object.values(value('FailureKind') as object)).toEqual(['fatal', 'exhausted', 'timeout', 'invalid', 'crashed']);
    expect(Object.values(value('RunStatus') as object)).toEqual([
      'completed',
      'threshold-exceeded',
      'aborted',
      'interrupted',
      'stopped',
      'uncaught-error',
    ]);
    expect(Object.values(value('Classification') as object)).toEqual(['retryable', 'fatal']);
    expect(Object.values(value('BreakerState') as object)).toEqual(['closed', 'open', 'half-open']);
    expect(Object.values(value('BreakerTripReason') as object)).toEqual([
      'consecutive-failures',
      'failure-rate',
      'success-collapse',
      'shared',
    ]);
    expect(Object.values(value('DependencyFailurePolicy') as object)).toEqual(['skip', 'run']);
    expect(Object.values(value('Jitter') as object)).toEqual(['none', 'full', 'equal', 'decorrelated']);
    expect(Object.values(value('InvalidUtf8') as object)).toEqual(['fail', 'replace']);
    expect(value('EngineEventType')).toMatchObject({ runStarted: 'run:started', runFinished: 'run:finished' });
  });

  it('names the option and value types a user writes', () => {
    // Compile-time checks (the type check of `npm test` runs them); the assertions only keep vitest honest.
    expectTypeOf<BreakerOptions['consecutiveFailures']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<RetryBudgetOptions['ratio']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<RateLimitOptions['perSecond']>().toEqualTypeOf<number>();
    expectTypeOf<HealthCheck>().parameters.toEqualTypeOf<[AbortSignal]>();
    expectTypeOf<JsonlOptions['invalidUtf8']>().toEqualTypeOf<'fail' | 'replace' | undefined>();
    expectTypeOf<JobOptions<unknown>['tracing']>().toEqualTypeOf<TracingOptions | undefined>();
    expectTypeOf<TracingOptions>().toEqualTypeOf<boolean | { tracerName?: string }>();
    expectTypeOf<ExitCodeType>().toEqualTypeOf<0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 70 | 129 | 130 | 143>();
    expectTypeOf<Summary['status']>().toEqualTypeOf<RunStatusType>();
    expectTypeOf<RecordStatusType>().toEqualTypeOf<'succeeded' | 'failed' | 'skipped'>();
    expectTypeOf<FailureKindType>().toEqualTypeOf<'fatal' | 'exhausted' | 'timeout' | 'invalid' | 'crashed'>();
    expect(true).toBe(true);
  });

  it('has no `any` in the declarations reachable from the entry points', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, { types?: string }> };
    const queue = Object.values(pkg.exports)
      .flatMap((entry) => (entry.types ? [resolve(ROOT, entry.types)] : []))
      .filter((file) => existsSync(file));
    expect(queue.length).toBe(3);
    const seen = new Set<string>();
    const found: string[] = [];
    while (queue.length > 0) {
      const file = queue.pop() as string;
      if (seen.has(file)) continue;
      seen.add(file);
      const code = withoutComments(readFileSync(file, 'utf8'));
      code.split('\n').forEach((line, i) => {
        if (/\bany\b/.test(withoutStrings(line))) found.push(`${relative(ROOT, file)}:${i + 1}: ${line.trim()}`);
      });
      for (const match of code.matchAll(/(?:from\s*|import\()\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
        queue.push(resolve(dirname(file), (match[1] as string).replace(/\.js$/, '.d.ts')));
      }
    }
    expect(seen.size).toBeGreaterThan(20);
    expect(found).toEqual([]);
  });
});

/** Declarations without their JSDoc and line comments (prose says "any" freely); line numbers kept. */
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, ' ')).replace(/\/\/.*$/gm, '');
}

function withoutStrings(line: string): string {
  return line.replace(/'[^']*'|"[^"]*"|`[^`]*`/g, "''");
}
