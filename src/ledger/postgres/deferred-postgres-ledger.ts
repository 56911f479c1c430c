/**
 * The PostgreSQL ledger as `openLedger` opens it: `pg` is loaded and the URL resolved at once, so a
 * missing install or a bad URL is still the open's error, but the ledger's own code (some thirty
 * modules) is imported at its first call. Every run imports `openLedger`, and a run on the default
 * SQLite ledger must not pay for loading the PostgreSQL one: start-up time is most of what a short
 * job feels (docs/benchmarks.md). The first call waits for the import; it makes no connection
 * before that call, as the ledger itself (postgres-ledger.ts).
 */
import type {
  CommitBatch,
  ErrorGroup,
  InFlightNote,
  Ledger,
  LedgerCounts,
  LeaseHolder,
  RecordKeys,
  RecordRow,
  ResumeState,
  RowFilter,
  RunRecord,
  RunStart,
  SeqRange,
  SourceRemap,
  StoredSource,
  StoredStep,
  TimelinePoint,
} from '../ledger.js';
import type { SourceFingerprint, SourceSample } from '../../sources/source.js';
import type { ActiveSharedRun } from '../worker-ledger.js';
import { loadPg } from './load-pg.js';
import type { PostgresLedgerOptions } from './open-postgres-ledger.js';
import { keyIndexFor } from '../../structures/key-index.js';
import { ledgerLocationIn, resolvePostgresTarget } from './postgres-location.js';

/** Opens the PostgreSQL ledger at `spec` (a `postgres:` URL); its code is loaded at the first call. */
export function openDeferredPostgresLedger(spec: string, options: PostgresLedgerOptions): Ledger {
  const { pg, path } = loadPg(options.field ?? 'ledger');
  const target = resolvePostgresTarget(spec, path);
  return new DeferredPostgresLedger(ledgerLocationIn(target.location, options.schema), async () =>
    (await import('./open-postgres-ledger.js')).postgresLedgerOn(pg, target, options),
  );
}

class DeferredPostgresLedger implements Ledger {
  private loading: Promise<Ledger> | undefined;

  constructor(
    readonly location: string,
    private readonly load: () => Promise<Ledger>,
  ) {}

  private ledger(): Promise<Ledger> {
    this.loading ??= this.load();
    return this.loading;
  }

  async begin(start: RunStart): Promise<ResumeState> {
    return (await this.ledger()).begin(start);
  }

  async sourceState(): Promise<StoredSource> {
    return (await this.ledger()).sourceState();
  }

  async acceptSource(fingerprint: SourceFingerprint | undefined, sample: SourceSample | undefined, seen: number): Promise<void> {
    return (await this.ledger()).acceptSource(fingerprint, sample, seen);
  }

  async applySourceMap(runId: string, fingerprint: SourceFingerprint | undefined, remap: SourceRemap): Promise<void> {
    return (await this.ledger()).applySourceMap(runId, fingerprint, remap);
  }

  async commit(batch: CommitBatch): Promise<void> {
    return (await this.ledger()).commit(batch);
  }

  async assertHeld(): Promise<void> {
    return (await this.ledger()).assertHeld();
  }

  async finish(runId: string, status: string, summary: unknown): Promise<void> {
    return (await this.ledger()).finish(runId, status, summary);
  }

  async counts(): Promise<LedgerCounts> {
    return (await this.ledger()).counts();
  }

  async topErrors(limit: number, sampleKeys: number): Promise<ErrorGroup[]> {
    return (await this.ledger()).topErrors(limit, sampleKeys);
  }

  async runs(limit: number): Promise<RunRecord[]> {
    return (await this.ledger()).runs(limit);
  }

  async timeline(runId: string): Promise<TimelinePoint[]> {
    return (await this.ledger()).timeline(runId);
  }

  async *rows(filter: RowFilter): AsyncIterable<RecordRow> {
    yield* (await this.ledger()).rows(filter);
  }

  async *succeededRanges(): AsyncIterable<SeqRange> {
    yield* (await this.ledger()).succeededRanges();
  }

  async keys(): Promise<RecordKeys> {
    return (await this.ledger()).keys();
  }

  /** The same empty set as the ledger's own, without waiting for its code. */
  newKeys(expectedKeys: number): RecordKeys {
    return keyIndexFor(expectedKeys);
  }

  async noteInFlight(note: InFlightNote): Promise<void> {
    return (await this.ledger()).noteInFlight(note);
  }

  /** None, as the ledger's own: run reports are in the database. */
  reportFolder(): string | undefined {
    return undefined;
  }

  async completedSteps(key: string): Promise<ReadonlyMap<string, StoredStep>> {
    return (await this.ledger()).completedSteps(key);
  }

  async saveStep(runId: string, key: string, name: string, result: string | undefined): Promise<void> {
    return (await this.ledger()).saveStep(runId, key, name, result);
  }

  async inspect(): Promise<ResumeState> {
    return (await this.ledger()).inspect();
  }

  async holder(): Promise<LeaseHolder | undefined> {
    return (await this.ledger()).holder();
  }

  async hasRuns(): Promise<boolean> {
    return (await (await this.ledger()).hasRuns?.()) ?? true;
  }

  async sharedRun(): Promise<ActiveSharedRun | undefined> {
    return (await this.ledger()).sharedRun?.();
  }

  /** A ledger never used has no connections to close. */
  async close(): Promise<void> {
    if (this.loading) await (await this.loading).close();
  }
}
