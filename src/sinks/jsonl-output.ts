/**
 * `jsonlOutput(path)`: one JSON line per succeeded record, exactly once across crashes and resumes.
 * The committed state is the file's length; on open, anything past it (lines of records whose
 * outcomes were not committed, and which will be redone) is cut off. The file belongs to one
 * ledger (output-owner.ts): another ledger's run is refused.
 */
import { closeSync, existsSync, ftruncateSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { notRegularFileAt } from '../sources/file-kind.js';
import { SinkError } from '../errors.js';
import { storageFault } from '../ledger/storage-fault.js';
import { claimOutput } from './output-owner.js';
import type { OutputRecord, OutputSink, SinkOwner, SinkState } from './output-sink.js';

export interface JsonlOutputOptions {
  /**
   * Turns a handler's result into the value written on its line. Return undefined to write no line
   * for that record. @default the result itself (a result of undefined writes no line)
   */
  format?: (value: unknown, record: OutputRecord) => unknown;
}

export function jsonlOutput(path: string, options: JsonlOutputOptions = {}): OutputSink {
  return new JsonlOutput(path, options);
}

class JsonlOutput implements OutputSink {
  readonly description: string;
  private readonly path: string;
  private fd: number | undefined;
  private bytes = 0;
  private buffer: string[] = [];
  /** The id of this ledger's claim on the file (output-owner.ts), committed with the state. */
  private ownerId: string | undefined;

  constructor(
    path: string,
    private readonly options: JsonlOutputOptions,
  ) {
    this.path = resolve(path);
    this.description = `jsonl:${path}`;
  }

  async open(committed: SinkState | undefined, owner?: SinkOwner): Promise<void> {
    const committedBytes = typeof committed?.bytes === 'number' ? committed.bytes : undefined;
    try {
      this.checkRegular();
      mkdirSync(dirname(this.path), { recursive: true });
      this.ownerId = owner ? claimOutput(this.path, owner, typeof committed?.owner === 'string' ? committed.owner : undefined) : undefined;
      const existed = existsSync(this.path);
      this.fd = openSync(this.path, existed ? 'r+' : 'w');
      const size = fstatSync(this.fd).size;
      if (committedBytes === undefined && size > 0) {
        throw new SinkError(
          `the output file ${this.path} already holds ${size} bytes that this job's ledger did not write; move it away or delete it, or use the ledger that wrote it`,
        );
      }
      if (committedBytes !== undefined && size < committedBytes) {
        throw new SinkError(
          `the output file ${this.path} has ${size} bytes but the ledger committed ${committedBytes}: it was truncated or replaced outside batchguard; restore it, or start over with a new ledger and output`,
        );
      }
      // Lines past the committed length belong to records whose outcomes were not committed.
      if (committedBytes !== undefined && size > committedBytes) ftruncateSync(this.fd, committedBytes);
      this.bytes = committedBytes ?? 0;
    } catch (error) {
      if (this.fd !== undefined) closeSync(this.fd);
      this.fd = undefined;
      if (error instanceof SinkError) throw error;
      throw (
        storageFault(error, this.path, 'opening the output file', 'nothing was written') ??
        new SinkError(`cannot open the output file ${this.path}: ${(error as Error).message}`, { cause: error })
      );
    }
  }

  /**
   * Throws a SinkError when the path is there but not a regular file: a named pipe, a device
   * (`/dev/stdout`) or a folder cannot be cut back to a committed length. Checked before the owner
   * file is made beside it (no `/dev/stdout.owner`) and without opening it (a pipe's open waits).
   */
  private checkRegular(): void {
    const what = notRegularFileAt(this.path);
    if (what === undefined) return;
    throw new SinkError(
      `the output ${this.path} is ${what}, not a regular file: jsonlOutput keeps a file's committed length and cuts the file back to it after a crash, ` +
        'so that no line is written twice; write to a file (and read it as it grows, `tail -f`), or give the job an OutputSink of your own',
    );
  }

  write(value: unknown, record: OutputRecord): void {
    const line = this.options.format ? this.options.format(value, record) : value;
    if (line === undefined) return;
    this.buffer.push(JSON.stringify(line));
  }

  seal(): unknown {
    const lines = this.buffer;
    this.buffer = [];
    return lines;
  }

  async flush(sealed: unknown): Promise<SinkState> {
    const lines = sealed as string[];
    if (lines.length > 0) {
      if (this.fd === undefined) throw new SinkError(`the output file ${this.path} is not open`);
      const chunk = Buffer.from(`${lines.join('\n')}\n`);
      let written = 0;
      try {
        while (written < chunk.length) written += writeSync(this.fd, chunk, written, chunk.length - written, this.bytes + written);
      } catch (error) {
        // The part written past the committed length is cut off at the next open.
        throw storageFault(error, this.path, 'writing the output file', 'the output up to the last commit is intact') ?? error;
      }
      this.bytes += chunk.length;
    }
    return this.ownerId === undefined ? { bytes: this.bytes } : { bytes: this.bytes, owner: this.ownerId };
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
