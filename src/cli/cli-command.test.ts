import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliCommand } from './cli-command.js';

const prefix = dirname(dirname(process.execPath));

describe('the command printed in hints', () => {
  it("is `npx batchguard` for a project-local install and for npx's cache", () => {
    expect(cliCommand('/home/me/project/node_modules/batchguard/', {})).toBe('npx batchguard');
    expect(cliCommand('/home/me/.npm/_npx/1a2b3c/node_modules/batchguard/', {})).toBe('npx batchguard');
    expect(cliCommand('/home/me/p/node_modules/.pnpm/batchguard@0.1.0/node_modules/batchguard/', {})).toBe('npx batchguard');
  });

  it('is `batchguard` for a global install and for a checkout of the repository', () => {
    expect(cliCommand(`${prefix}/lib/node_modules/batchguard/`, {})).toBe('batchguard');
    expect(cliCommand('/opt/npm-global/lib/node_modules/batchguard/', { npm_config_prefix: '/opt/npm-global' })).toBe('batchguard');
    expect(cliCommand('/work/batchguard/', {})).toBe('batchguard');
  });
});
