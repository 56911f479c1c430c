import { expect, it } from 'vitest';
import { counted } from './counted.js';

it('counts in the singular for one and in the plural otherwise', () => {
  expect([0, 1, 2].map((n) => counted(n, 'record'))).toEqual(['0 records', '1 record', '2 records']);
});
