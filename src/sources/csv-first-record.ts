/**
 * Parses the one record at the start of some bytes of a CSV file, with csv-parse and the options of
 * the stream: how the header is read (csv.ts) and how a waiting record is read again at its offset
 * (csv-record-reader.ts). The bytes are a prefix of the rest of the file, so the answer may be that
 * more are needed: a record that reaches their end may go on (or its "\r" may be followed by "\n").
 *
 * A waiting record is read again a million times in a run, so one csv-parse parser serves every
 * call of a {@link FirstRecordParser}, its state put back as it was made before each. csv-parse's
 * own single-use parse (`csv-parse/sync`) normalises the options and builds a state on every call:
 * measured by bench/record-reread.mjs, 15–16 µs of CPU a read against 3.6–4.4 µs with one parser
 * (a JSONL line: 2.6 µs), and ten times the garbage, which raised the peak RSS of 1M CSV records
 * waiting children-first from 228–248 MB to 256–302 MB (docs/benchmarks.md).
 */
import { Parser, type Options } from 'csv-parse';
import { parse as parseOnce } from 'csv-parse/sync';

/** What the bytes hold at their start. */
export type FirstRecord =
  /** The record, and how many bytes it takes with its line break. */
  | { readonly kind: 'record'; readonly record: unknown; readonly bytes: number }
  /** csv-parse rejects the record (its error, with the `code` csv-parse gives). */
  | { readonly kind: 'error'; readonly error: Error }
  /** No record: only empty or comment lines up to the end of the file. */
  | { readonly kind: 'none' }
  /** The record may go on past these bytes: read more and ask again. */
  | { readonly kind: 'more' };

/**
 * csv-parse's parsing machine, as its stream `Parser` holds it (`api`, csv-parse 6; not in its
 * types): `parse(bytes, end, push, close)` returns an error or undefined, and keeps what it has
 * seen in `state` (plain values, two growable buffers and the record's fields), `info` (counters)
 * and `options` (where it adds the line break it discovers).
 */
interface ParseMachine {
  readonly state: Record<string, unknown> & { record: unknown[]; field: Resettable; rawBuffer: Resettable };
  readonly info: Record<string, unknown> & { bytes: number };
  readonly options: { readonly record_delimiter: unknown[] };
  parse(bytes: Buffer, end: boolean, push: (record: unknown) => void, close: () => void): Error | undefined;
}

interface Resettable {
  reset(): void;
}

const ignore = (): void => undefined;

/** Parses the first record of byte prefixes again and again with the same options (see the file's comment). */
export class FirstRecordParser {
  /** Undefined when this csv-parse holds no machine of that shape: every parse is then a single-use one. */
  private readonly machine: ParseMachine | undefined;
  private readonly initialState: Record<string, unknown> = {};
  private readonly initialInfo: Record<string, unknown> = {};
  private readonly initialDelimiters: number = 0;
  private found = false;
  private record: unknown;
  private end = 0;
  /** csv-parse calls it synchronously while `info.bytes` is the record's end (its line break included). */
  private readonly push = (record: unknown): void => {
    if (this.found) return;
    this.found = true;
    this.record = record;
    this.end = (this.machine as ParseMachine).info.bytes;
  };

  constructor(private readonly options: Options) {
    // `to: 1`: csv-parse stops after the first record instead of parsing the rest of the bytes.
    const machine = (new Parser({ ...options, to: 1 }) as unknown as { api?: unknown }).api;
    // csv-parse is ^6: a later 6.x that keeps its machine elsewhere, or another way, gets the
    // single-use parse, slower, not an error.
    if (!knownMachine(machine)) return;
    this.machine = machine;
    this.initialState = { ...machine.state };
    this.initialInfo = { ...machine.info };
    this.initialDelimiters = machine.options.record_delimiter.length;
    if (!this.agreesOnProbe()) this.machine = undefined;
  }

  /** Whether one csv-parse parser serves every parse (false: each is csv-parse's single-use parse). */
  get reusesParser(): boolean {
    return this.machine !== undefined;
  }

  /** Whether the machine parses a quoted line break and a short prefix as the single-use parse does. */
  private agreesOnProbe(): boolean {
    const probe = Buffer.from('"a\nb",c\nd,e\n');
    try {
      for (const [bytes, whole] of [
        [probe, true],
        [probe.subarray(0, 3), false],
        [probe.subarray(8), true],
      ] as const) {
        const answer = JSON.stringify(this.parse(bytes, whole));
        if (answer !== JSON.stringify(firstRecordOnce(bytes, whole, this.options))) return false;
      }
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The first record of `bytes`, which start at a record (or at empty and comment lines before one)
   * and are the rest of the file when `whole`.
   */
  parse(bytes: Buffer, whole: boolean): FirstRecord {
    const machine = this.machine;
    if (machine === undefined) return firstRecordOnce(bytes, whole, this.options);
    this.reset(machine);
    let error: unknown;
    try {
      error = machine.parse(bytes, true, this.push, ignore);
    } catch (thrown) {
      error = thrown;
    }
    const record = this.record;
    this.record = undefined;
    if (error !== undefined) return failed(error, bytes, whole);
    if (!this.found) return whole ? { kind: 'none' } : { kind: 'more' };
    if (this.end >= bytes.length && !whole) return { kind: 'more' };
    return { kind: 'record', record, bytes: this.end };
  }

  /** Puts the machine back as it was made: what a parse of one record changed, whether it ended or failed. */
  private reset(machine: ParseMachine): void {
    const { state, info, options } = machine;
    Object.assign(state, this.initialState);
    // The record's fields are handed out with the record (columns: false): a new array, never the old one.
    state.record = [];
    state.field.reset();
    state.rawBuffer.reset();
    Object.assign(info, this.initialInfo);
    // A line break csv-parse discovered is added to the options: discovered again at each record, as before.
    options.record_delimiter.length = this.initialDelimiters;
    this.found = false;
    this.end = 0;
  }
}

/** The first record of `bytes` with `options`, parsed once (see {@link FirstRecordParser.parse}). */
export function firstRecord(bytes: Buffer, whole: boolean, options: Options): FirstRecord {
  return new FirstRecordParser(options).parse(bytes, whole);
}

/**
 * The first record of `bytes` by csv-parse's own single-use parse (it sets up a parser per call):
 * what a {@link FirstRecordParser} does when csv-parse holds no machine of the shape it knows.
 */
export function firstRecordOnce(bytes: Buffer, whole: boolean, options: Options): FirstRecord {
  let records: { record: unknown; info: { bytes: number } }[];
  try {
    records = parseOnce(bytes, { ...options, info: true, to: 1 }) as unknown as typeof records;
  } catch (error) {
    return failed(error, bytes, whole);
  }
  const first = records[0];
  if (first === undefined) return whole ? { kind: 'none' } : { kind: 'more' };
  if (first.info.bytes >= bytes.length && !whole) return { kind: 'more' };
  return { kind: 'record', record: first.record, bytes: first.info.bytes };
}

/** Whether `machine` has every part of csv-parse 6's parsing machine that a {@link FirstRecordParser} uses. */
function knownMachine(machine: unknown): machine is ParseMachine {
  const m = machine as Partial<ParseMachine> | undefined;
  return (
    typeof m?.parse === 'function' &&
    typeof m.state === 'object' &&
    Array.isArray(m.state.record) &&
    typeof m.state.field?.reset === 'function' &&
    typeof m.state.rawBuffer?.reset === 'function' &&
    typeof m.info?.bytes === 'number' &&
    Array.isArray(m.options?.record_delimiter)
  );
}

/** csv-parse rejected the bytes: the record's error, or `more` when more bytes may mend it. */
function failed(error: unknown, bytes: Buffer, whole: boolean): FirstRecord {
  if (whole) return { kind: 'error', error: error as Error };
  // An open quote may be closed further on; a record found short of fields at the end of the
  // bytes may have more. An error found before their end is final.
  const { code, bytes: at } = error as { code?: unknown; bytes?: unknown };
  if (code === 'CSV_QUOTE_NOT_CLOSED' || Number(at ?? 0) >= bytes.length) return { kind: 'more' };
  return { kind: 'error', error: error as Error };
}
