/**
 * Sorted runs (sorted-run.ts) held in memory: the memory ledger's and the PostgreSQL ledger's, whose
 * runs are not kept past the process, and tests'.
 */
import type { RunBytes, RunSink, RunStore } from './sorted-run.js';

/** A store of runs in memory (the memory ledger's, and tests'). */
export class MemoryRunStore implements RunStore {
  private made = 0;
  /** Names of the runs not removed. */
  readonly live = new Set<string>();

  create(): RunSink {
    const chunks: Uint8Array[] = [];
    const name = `run-${++this.made}`;
    return {
      append: (bytes) => chunks.push(bytes.slice()),
      finish: () => {
        const data = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
        let at = 0;
        for (const chunk of chunks) {
          data.set(chunk, at);
          at += chunk.byteLength;
        }
        this.live.add(name);
        return memoryRun(name, data);
      },
    };
  }

  remove(run: RunBytes): void {
    this.live.delete(run.name);
  }
}

/** Run bytes held in memory. */
export function memoryRun(name: string, data: Uint8Array): RunBytes {
  return {
    name,
    bytes: data.byteLength,
    read(offset, into) {
      const part = data.subarray(offset, offset + into.byteLength);
      into.set(part);
      return part.byteLength;
    },
  };
}
