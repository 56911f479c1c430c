/**
 * Loads a job file (.ts, .mts, .js, .mjs) from any folder, without a build step.
 */
import { existsSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.js';
import { defineJob, type Job } from '../job.js';
import { positionInJobFile } from './job-file-location.js';
import { resolvesToPackage } from './package-resolution.js';
import { thrownMessage } from '../policy/error-fields.js';

const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs', '.cts', '.cjs'];
const TYPESCRIPT = ['.ts', '.mts', '.cts'];
/** This copy of batchguard: the folder holding package.json, above dist/cli/. */
const PACKAGE_DIR = new URL('../../', import.meta.url);
let tsxRegistered = false;
let hookRegistered = false;

/**
 * Registers what the job file needs and nothing more: each costs start-up time (tsx ~0.2 s, the
 * resolve hook's loader thread ~0.1 s), which is most of a short job's wall time. An `.mjs` file
 * whose folder already resolves `batchguard` to this very copy (a project with batchguard
 * installed) needs neither: it is an ES module whatever the package.json says.
 */
async function registerLoaders(path: string): Promise<void> {
  const extension = extname(path);
  if (TYPESCRIPT.includes(extension) && !tsxRegistered) {
    tsxRegistered = true;
    (await import('tsx/esm/api')).register();
  }
  if (hookRegistered) return;
  if (extension === '.mjs' && resolvesToPackage('batchguard', path, PACKAGE_DIR)) return;
  hookRegistered = true;
  // Registered after tsx so that it runs first (hooks run last-registered first). The hook
  // resolves `batchguard` as the package at PACKAGE_DIR resolves its own name.
  const { register } = await import('node:module');
  register('./resolve-hook.js', import.meta.url, { data: { packageRoot: PACKAGE_DIR.href } });
}

/** Imports the job file and returns its validated job (the default export, or an export named `job`). */
export async function loadJob(file: string): Promise<Job<any, any>> {
  const path = resolve(file);
  if (!existsSync(path)) throw new ConfigError(`job file not found: ${path}`, { field: 'job-file' });
  if (!EXTENSIONS.includes(extname(path))) {
    throw new ConfigError(`job file must end in ${EXTENSIONS.join(', ')}; got ${path}`, { field: 'job-file' });
  }
  await registerLoaders(path);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${path}: ${error.message}`, { field: error.field, cause: error });
    const name = error instanceof SyntaxError ? 'SyntaxError: ' : '';
    throw new ConfigError(`cannot load job file ${path}${positionInJobFile(error, path) ?? ''}: ${name}${thrownMessage(error)}`, {
      cause: error,
    });
  }
  const exported = module.default ?? module.job;
  if (exported === undefined || exported === null) {
    throw new ConfigError(`${path} has no default export: end it with \`export default defineJob({ ... })\``, { field: 'job-file' });
  }
  try {
    return defineJob(exported as Parameters<typeof defineJob>[0]);
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${path}: ${error.message}`, { field: error.field, cause: error });
    throw error;
  }
}
