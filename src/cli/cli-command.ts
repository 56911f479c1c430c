/**
 * The command that printed hints tell the user to type. `batchguard` alone works when it is on
 * the PATH (a global install); from a project's own node_modules (a local install, or npx) the
 * shell does not find it, and the hint must say `npx batchguard`.
 */
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's folder: this file is `dist/cli/cli-command.js`. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * `npx batchguard` when the package sits in a node_modules folder other than the global one: a
 * project's own install, or npx's cache (where `npx batchguard` put it). The environment is not
 * asked: npm sets the same variables for every process under `npm exec` or `npm test`.
 */
export function cliCommand(packageRoot: string = PACKAGE_ROOT, env: NodeJS.ProcessEnv = process.env): string {
  if (!packageRoot.includes(`${sep}node_modules${sep}`)) return 'batchguard';
  return packageRoot.startsWith(globalRoot(env) + sep) ? 'batchguard' : 'npx batchguard';
}

/** Where `npm install -g` puts packages: `<prefix>/lib/node_modules` (the prefix holds node's bin/). */
function globalRoot(env: NodeJS.ProcessEnv): string {
  const prefix = env.npm_config_prefix ?? dirname(dirname(process.execPath));
  return process.platform === 'win32' ? join(prefix, 'node_modules') : join(prefix, 'lib', 'node_modules');
}
