/**
 * Where Node's own ES module resolution would find a package from a given file, without importing
 * it (Node 20 has no `import.meta.resolve` from another file's point of view).
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * True when `import '<name>'` in the file at `fromFile` would load the package in `packageDir`
 * (compared by real path). Follows Node's order: the file's own package when it is that package
 * (self-reference), then the first `node_modules/<name>` folder up the tree.
 */
export function resolvesToPackage(name: string, fromFile: string, packageDir: URL): boolean {
  const target = realPath(fileURLToPath(packageDir));
  if (target === undefined) return false;
  const scope = nearestPackageJson(dirname(fromFile));
  if (scope !== undefined && scope.name === name) return realPath(scope.dir) === target;
  const { root } = parse(fromFile);
  for (let dir = dirname(fromFile); ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (isDirectory(candidate)) return realPath(candidate) === target;
    if (dir === root) return false;
  }
}

function nearestPackageJson(from: string): { dir: string; name: unknown } | undefined {
  const { root } = parse(from);
  for (let dir = from; ; dir = dirname(dir)) {
    // Node stops at the first package.json, and so does a package scope (node_modules folders are scopes too).
    let text: string | undefined;
    try {
      text = readFileSync(join(dir, 'package.json'), 'utf8');
    } catch {
      text = undefined;
    }
    if (text !== undefined) {
      try {
        return { dir, name: (JSON.parse(text) as { name?: unknown }).name };
      } catch {
        return { dir, name: undefined };
      }
    }
    if (dir === root || dir.endsWith('/node_modules')) return undefined;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
