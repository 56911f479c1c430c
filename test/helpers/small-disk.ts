/**
 * A small tmpfs, for a full disk for real (ENOSPC): mounted in a test's temporary folder, unmounted
 * after each test. Mounting needs root or CAP_SYS_ADMIN; `CAN_MOUNT` says whether this process may.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
// First: its hooks are registered before the one below, which then runs before them (vitest runs
// them last-registered first), so a tmpfs is unmounted before its folder is removed.
import './temp.js';

const mounted: string[] = [];

/** Whether this process may mount a tmpfs (root, or CAP_SYS_ADMIN). */
function canMount(): boolean {
  const probe = mkdtempSync(join(tmpdir(), 'bg-mount-probe-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
    execFileSync('umount', [probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    rmSync(probe, { recursive: true, force: true });
  }
}
export const CAN_MOUNT = canMount();

// Before the temporary folder holding the mount point is removed (hooks run last-registered first).
afterEach(() => {
  for (const dir of mounted.splice(0)) execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
});

/** A tmpfs of `size` (e.g. '1m') mounted at `dir/disk`; its path. */
export function smallDisk(dir: string, size: string): string {
  const mnt = join(dir, 'disk');
  mkdirSync(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', mnt]);
  mounted.push(mnt);
  return mnt;
}
