/**
 * Loads a job file (.ts, .mts, .js, .mjs) from any folder, without a build step.
 */
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { register as registerTsx } from 'tsx/esm/api';
import { ConfigError } from '../errors.js';
import { defineJob, type Job } from '../job.js';

const EXTENSIONS = ['.ts', '.mts', '.js', '.mjs', '.cts', '.cjs'];
let registered = false;

function registerLoaders(): void {
  if (registered) return;
  registered = true;
  registerTsx();
  // Registered after tsx so that it runs first (hooks run last-registered first). dist/ holds
  // index.js next to cli/: the hook maps `batchguard` there.
  register('./resolve-hook.js', import.meta.url, { data: { packageRoot: new URL('../', import.meta.url).href } });
}

/** Imports the job file and returns its validated job (the default export, or an export named `job`). */
export async function loadJob(file: string): Promise<Job<any, any>> {
  const path = resolve(file);
  if (!existsSync(path)) throw new ConfigError(`job file not found: ${path}`, { field: 'job-file' });
  if (!EXTENSIONS.includes(extname(path))) {
    throw new ConfigError(`job file must end in ${EXTENSIONS.join(', ')}; got ${path}`, { field: 'job-file' });
  }
  registerLoaders();
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(`${path}: ${error.message}`, { field: error.field, cause: error });
    throw new ConfigError(`cannot load job file ${path}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
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
