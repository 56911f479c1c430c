/**
 * The file of `rerun --keys FILE` (or standard input, `--keys -`): one key per line, as `failures --format keys` writes them. Blank
 * lines are ignored, a trailing CR is dropped, and a line starting with `"` is a JSON string (a key
 * with a newline, say). The text is UTF-8; a byte-order mark is not part of the first key (Notepad
 * and spreadsheet exports write one), and a file with a UTF-16 mark (PowerShell's `>`) is read as
 * UTF-16. Bytes that are not UTF-8 are refused, naming the line, rather than read as keys that
 * match nothing.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { parseKeyLine } from '../report/key-lines.js';
import { firstInvalidUtf8, validUtf8 } from '../sources/utf8.js';

/** Standard input, as `--keys -` reads it. */
export interface KeysInput {
  readonly isTTY: boolean;
  read(): Buffer;
}

const STANDARD_INPUT: KeysInput = {
  get isTTY() {
    return process.stdin.isTTY === true;
  },
  read: () => readFileSync(0),
};

/**
 * The keys in `file` (`-`: standard input, as a pipe from `failures --format keys` gives them); a
 * ConfigError naming `--keys`, the file and the line when it cannot be read as keys.
 */
export function readKeysFile(file: string, stdin: KeysInput = STANDARD_INPUT): string[] {
  const fromStdin = file === '-';
  const path = fromStdin ? 'standard input' : resolve(file);
  if (fromStdin && stdin.isTTY) {
    throw new ConfigError(
      '--keys -: standard input is a terminal; pipe the keys in (batchguard failures JOB --format keys | batchguard rerun JOB --failed --keys -) or give a file',
      { field: '--keys' },
    );
  }
  let bytes: Buffer;
  try {
    bytes = fromStdin ? stdin.read() : readFileSync(path);
  } catch (error) {
    throw new ConfigError(`--keys: cannot read ${path}: ${(error as Error).message}`, { field: '--keys' });
  }
  const lines = decode(bytes, path).split('\n');
  const keys: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let key: string | undefined;
    try {
      key = parseKeyLine(lines[i] as string, `--keys: ${path}:${i + 1}`);
    } catch (error) {
      throw new ConfigError((error as Error).message, { field: '--keys' });
    }
    if (key !== undefined) keys.push(key);
  }
  if (keys.length === 0) throw new ConfigError(`--keys: ${path} has no keys (one key per line expected)`, { field: '--keys' });
  return keys;
}

function decode(bytes: Buffer, path: string): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString('utf16le');
  if (bytes[0] === 0xfe && bytes[1] === 0xff) {
    const body = Buffer.from(bytes.subarray(2, 2 + ((bytes.length - 2) & ~1)));
    return body.swap16().toString('utf16le');
  }
  const text = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  if (!validUtf8(text)) {
    // The line of the first byte that is not UTF-8: the line breaks before it, plus one.
    const at = firstInvalidUtf8(text);
    let line = 1;
    for (let i = text.indexOf(0x0a); i !== -1 && i < at; i = text.indexOf(0x0a, i + 1)) line++;
    throw new ConfigError(`--keys: ${path}:${line}: not UTF-8 text; save the file as UTF-8, one key per line`, { field: '--keys' });
  }
  return text.toString('utf8');
}
