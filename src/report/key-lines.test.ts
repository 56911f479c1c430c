import { describe, expect, it } from 'vitest';
import { formatKeyLine, formatKeySample, parseKeyLine } from './key-lines.js';

describe('the keys format', () => {
  it('writes a plain key as it is and quotes one that would not survive a line', () => {
    expect(formatKeyLine('a b')).toBe('a b');
    expect(formatKeyLine(' 103 ')).toBe('" 103 "');
    expect(parseKeyLine(formatKeyLine('x\ny'), 'f:1')).toBe('x\ny');
  });
});

describe('a sample of keys in a message', () => {
  it('shows where each key begins and ends: blanks at either end, an empty key or a comma get quotes', () => {
    expect(formatKeySample(['3', ' 103 ', 'a, b', '', 'New York'])).toBe('3, " 103 ", "a, b", "", New York');
  });

  it('shows the first ten, then an ellipsis', () => {
    const keys = Array.from({ length: 12 }, (_, i) => String(i));
    expect(formatKeySample(keys)).toBe('0, 1, 2, 3, 4, 5, 6, 7, 8, 9, …');
  });
});
