/**
 * Where the handlers' results go, exactly once. The engine commits what a sink wrote together with
 * the ledger batch of the same records: `seal()` cuts the sink's buffer at the moment the batch is
 * cut, `flush()` writes that part and returns the sink's new state, and the ledger stores that state
 * in the same transaction as the outcomes. On the next run `open()` gets the last committed state
 * back and must undo anything written after it (the records behind it are redone).
 */
import type { SourcePosition } from '../sources/source.js';

/** A JSON-serialisable description of what the sink holds, committed with each ledger batch. */
export type SinkState = Record<string, unknown>;

/** What a sink knows of the record behind a result. */
export interface OutputRecord {
  readonly key: string;
  readonly position: SourcePosition;
}

/** The ledger that commits a sink's state: a sink written by two ledgers would hold records twice. */
export interface SinkOwner {
  /** The ledger's location (its file path). */
  readonly ledger: string;
  readonly job: string;
}

/** Implement this to plug a custom sink with the same exactly-once guarantee. */
export interface OutputSink {
  /** For messages, e.g. `jsonl:out/results.jsonl`. */
  readonly description: string;
  /**
   * Prepares the sink, restoring it to `committed`: the state stored with the last ledger commit,
   * or undefined when the ledger has none (a first run). Throw a `SinkError` when it cannot, and
   * when the destination belongs to another ledger (`owner` is the ledger opening it).
   */
  open(committed: SinkState | undefined, owner?: SinkOwner): Promise<void>;
  /** Buffers the result of one succeeded record. Synchronous and cheap: it runs once per record. */
  write(value: unknown, record: OutputRecord): void;
  /** Cuts the buffer: everything written since the last seal, to be flushed with the current batch. */
  seal(): unknown;
  /** Writes a sealed part durably enough to survive the process dying, and returns the new state. */
  flush(sealed: unknown): Promise<SinkState>;
  close(): Promise<void>;
}
