import { describe, expect, it } from 'vitest';
import { tempFiles } from '../../test/helpers/temp.js';
import { readKeysFile } from './keys-file.js';

const { file } = tempFiles('batchguard-keys-', '.txt');
const bytesFile = (bytes: Buffer): string => file(bytes);

describe('the keys file of rerun --keys', () => {
  it('reads one key a line, blank lines and CRs aside, a quoted line as a JSON string', () => {
    expect(readKeysFile(file('a\r\n\n"b\\nc"\nd'))).toEqual(['a', 'b\nc', 'd']);
  });

  it('does not take a UTF-8 byte-order mark for part of the first key', () => {
    expect(readKeysFile(bytesFile(Buffer.from('\uFEFF3\n10\n', 'utf8')))).toEqual(['3', '10']);
  });

  it('reads a file with a UTF-16 byte-order mark as UTF-16, either order', () => {
    const little = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('3\r\n10\r\nü\r\n', 'utf16le')]);
    expect(readKeysFile(bytesFile(little))).toEqual(['3', '10', 'ü']);
    const big = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('3\n10\n', 'utf16le').swap16()]);
    expect(readKeysFile(bytesFile(big))).toEqual(['3', '10']);
  });

  it('refuses bytes that are not UTF-8, naming the file and the line', () => {
    const path = bytesFile(Buffer.concat([Buffer.from('a\nb\n'), Buffer.from([0x63, 0xff, 0x0a])]));
    expect(() => readKeysFile(path)).toThrow(`--keys: ${path}:3: not UTF-8 text; save the file as UTF-8, one key per line`);
  });

  it('refuses a file without keys, and one that cannot be read', () => {
    const empty = file('\n\n');
    expect(() => readKeysFile(empty)).toThrow(`--keys: ${empty} has no keys (one key per line expected)`);
    expect(() => readKeysFile('/nonexistent/keys.txt')).toThrow('--keys: cannot read /nonexistent/keys.txt: ENOENT');
  });

  it('reads the keys from standard input for "-" (failures --format keys | rerun --failed --keys -), but not from a terminal', () => {
    const piped = { isTTY: false, read: () => Buffer.from('3\n"a\\nb"\n') };
    expect(readKeysFile('-', piped)).toEqual(['3', 'a\nb']);
    expect(() => readKeysFile('-', { isTTY: false, read: () => Buffer.from('\n') })).toThrow(
      '--keys: standard input has no keys (one key per line expected)',
    );
    expect(() => readKeysFile('-', { isTTY: true, read: () => Buffer.from('3\n') })).toThrow(
      '--keys -: standard input is a terminal; pipe the keys in (batchguard failures JOB --format keys | batchguard rerun JOB --failed --keys -) or give a file',
    );
  });
});
