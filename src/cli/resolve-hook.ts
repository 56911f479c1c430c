/**
 * Module resolution hook registered by the CLI before it imports a job file: `batchguard` (and
 * `batchguard/…`) resolve to the CLI's own copy, so a job file works from any folder, even one with
 * no node_modules, and `instanceof RetryableError` means the same class in the job and the engine.
 * They are resolved as the package resolves its own name (its `exports`), so the job gets the very
 * files the CLI runs (the bundle in dist/bundle/, not tsc's per-module files beside it).
 */
let packageJson: string | undefined;

export function initialize(data: { packageRoot: string }): void {
  packageJson = new URL('package.json', data.packageRoot).href;
}

interface Resolved {
  url: string;
  format?: string | null;
  shortCircuit?: boolean;
}
type Next = (specifier: string, context: unknown) => Promise<Resolved>;

const USER_MODULE = /\.(ts|js)$/;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<Resolved> {
  if (packageJson !== undefined && (specifier === 'batchguard' || specifier.startsWith('batchguard/'))) {
    // From inside the package, its own name resolves through its `exports` (self-reference).
    return next(specifier, { ...(context as object), parentURL: packageJson });
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
