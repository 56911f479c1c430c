/**
 * Module resolution hook registered by the CLI before it imports a job file: `batchguard` (and
 * `batchguard/…`) resolve to the CLI's own copy, so a job file works from any folder, even one with
 * no node_modules, and `instanceof RetryableError` means the same class in the job and the engine.
 */
let packageRoot: string | undefined;

export function initialize(data: { packageRoot: string }): void {
  packageRoot = data.packageRoot;
}

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string; shortCircuit?: boolean }> {
  if (packageRoot !== undefined && (specifier === 'batchguard' || specifier.startsWith('batchguard/'))) {
    const subpath = specifier === 'batchguard' ? 'index.js' : `${specifier.slice('batchguard/'.length)}.js`;
    return { url: new URL(subpath, packageRoot).href, shortCircuit: true };
  }
  return next(specifier, context);
}
