import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../test/helpers/temp.js';
import { resolvesToPackage } from './package-resolution.js';

/** A folder that looks like an installed package named `name`. */
function makePackage(dir: string, name: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, exports: { '.': './index.js' } }));
  return dir;
}

const asUrl = (dir: string): URL => pathToFileURL(`${dir}/`);

describe('resolvesToPackage', () => {
  it('is false in a folder where the package cannot be found', () => {
    const base = tempDir();
    const own = makePackage(join(base, 'own'), 'batchguard');
    mkdirSync(join(base, 'scratch'));
    expect(resolvesToPackage('batchguard', join(base, 'scratch', 'job.mjs'), asUrl(own))).toBe(false);
  });

  it('is true when node_modules up the tree links to the same package (compared by real path)', () => {
    const base = tempDir();
    const own = makePackage(join(base, 'own'), 'batchguard');
    mkdirSync(join(base, 'project', 'node_modules'), { recursive: true });
    mkdirSync(join(base, 'project', 'jobs', 'nightly'), { recursive: true });
    symlinkSync(own, join(base, 'project', 'node_modules', 'batchguard'));
    expect(resolvesToPackage('batchguard', join(base, 'project', 'jobs', 'nightly', 'job.mjs'), asUrl(own))).toBe(true);
  });

  it('is false when the first node_modules copy up the tree is another copy, even if a farther one is ours', () => {
    const base = tempDir();
    const own = makePackage(join(base, 'own'), 'batchguard');
    mkdirSync(join(base, 'project', 'node_modules'), { recursive: true });
    symlinkSync(own, join(base, 'project', 'node_modules', 'batchguard'));
    makePackage(join(base, 'project', 'jobs', 'node_modules', 'batchguard'), 'batchguard');
    expect(resolvesToPackage('batchguard', join(base, 'project', 'jobs', 'job.mjs'), asUrl(own))).toBe(false);
  });

  it('follows self-reference: a file inside the package itself resolves to it, a file inside another package of that name does not', () => {
    const base = tempDir();
    const own = makePackage(join(base, 'own'), 'batchguard');
    mkdirSync(join(own, 'examples'));
    expect(resolvesToPackage('batchguard', join(own, 'examples', 'demo.mjs'), asUrl(own))).toBe(true);
    const other = makePackage(join(base, 'fork'), 'batchguard');
    mkdirSync(join(base, 'fork', 'node_modules'));
    symlinkSync(own, join(base, 'fork', 'node_modules', 'batchguard'));
    expect(resolvesToPackage('batchguard', join(other, 'job.mjs'), asUrl(own))).toBe(false);
  });
});
