/**
 * Module resolution hook registered by the CLI before it imports a job file: `batchguard` (and
 * `batchguard/…`) resolve to the CLI's own copy, so a job file works from any folder, even one with
 * no node_modules, and `instanceof RetryableError` means the same class in the job and the engine.
 */
let packageRoot: string | undefined;

export function initialize(data: { packageRoot: string }): void {
  packageRoot = data.packageRoot;
}

interface Resolved {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
type Next = (specifier: string, context: unknown) => Promise<Resolved>;

const USER_MODULE = /\.(ts|js)$/;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<Resolved> {
  if (packageRoot !== undefined && (specifier === 'batchguard' || specifier.startsWith('batchguard/'))) {
    const subpath = specifier === 'batchguard' ? 'index.js' : `${specifier.slice('batchguard/'.length)}.js`;
    return { url: new URL(subpath, packageRoot).href, shortCircuit: true };
  }
  const resolved = await next(specifier, context);
  // A job file in a scratch folder has no package.json saying "type": "module", so Node would load
  // it (and the .ts/.js files it imports) as CommonJS, which cannot `import` batchguard. Job code
  // is written as ES modules: load it as one. Dependencies in node_modules keep their own format.
  if (
    resolved.url.startsWith('file:') &&
    !resolved.url.includes('/node_modules/') &&
    USER_MODULE.test(resolved.url) &&
    resolved.format !== 'module'
  ) {
    return { ...resolved, format: 'module' };
  }
  return resolved;
}
