/**
 * The layout's rules, read from the source: no import cycle between the folders of src/ (a
 * folder that imports another must not be imported by it, directly or through others; a file at the
 * top of src/ counts as a folder of its own), no non-test source file over 400 lines, and no ledger
 * backend (or better-sqlite3) imported from outside src/ledger/.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const MAX_LINES = 400;

/**
 * Known breaches that work under way removes. Each must still be a breach (the test fails once it is not, so that it is
 * removed from here), and no other may appear.
 */
const BEING_REMOVED = {
  cycles: [] as string[],
  long: [] as string[],
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * The layer a file belongs to: its top folder under src/ (a backend in `ledger/sqlite/` is part of
 * `ledger`), or, for a file at the top of src/ (`index.ts`, `job.ts`), the file itself.
 */
function folderOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return `src/${parts[0]}`;
}

/** Relative specifiers of `import`/`export ... from` and dynamic `import()`; type-only imports count too. */
function importsOf(text: string): string[] {
  const found: string[] = [];
  const pattern =
    /(?:^|[\s;])(?:import|export)\s[^'"`;]*?from\s*['"](\.{1,2}\/[^'"]+)['"]|import\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)|^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const match of text.matchAll(pattern)) found.push((match[1] ?? match[2] ?? match[3]) as string);
  return found;
}

/** Folder → the folders its non-test files import, with one file that does it (for the message). */
export function folderGraph(files: readonly string[]): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of files) {
    if (file.endsWith('.test.ts')) continue;
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      const to = folderOf(resolve(dirname(file), specifier).replace(/\.js$/, '.ts'));
      if (to !== from && !edges.has(to)) edges.set(to, `${relative(SRC, file).split(sep).join('/')} → ${specifier}`);
    }
  }
  return graph;
}

/** Every cycle between folders, each as its folders in order plus the import that makes each step. */
export function folderCycles(graph: Map<string, Map<string, string>>): string[] {
  // Tarjan's strongly connected components: a component of more than one folder holds a cycle.
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (node: string): void => {
    indices.set(node, index);
    low.set(node, index++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node)?.keys() ?? []) {
      if (!indices.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node) as number, low.get(next) as number));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) as number, indices.get(next) as number));
      }
    }
    if (low.get(node) === indices.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop() as string;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) components.push(component);
    }
  };
  for (const node of graph.keys()) if (!indices.has(node)) visit(node);
  return components.map((component) => {
    // One concrete cycle through the component's first folder, found by a breadth-first search back to it.
    const members = new Set(component);
    const start = component.sort()[0] as string;
    const cameFrom = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const node = queue.shift() as string;
      for (const next of graph.get(node)?.keys() ?? []) {
        if (!members.has(next) || cameFrom.has(next)) continue;
        cameFrom.set(next, node);
        if (next === start) queue.length = 0;
        else queue.push(next);
      }
    }
    const path = [start];
    for (let node = cameFrom.get(start) as string; node !== start; node = cameFrom.get(node) as string) path.unshift(node);
    path.unshift(start);
    const steps = path.slice(0, -1).map((from, i) => `  ${graph.get(from)?.get(path[i + 1] as string)}`);
    return `${path.join(' → ')}\n${steps.join('\n')}`;
  });
}

describe('source layout', () => {
  const files = sourceFiles(SRC);

  it('has no import cycle between folders', () => {
    const cycles = folderCycles(folderGraph(files));
    expect(cycles.filter((cycle) => !BEING_REMOVED.cycles.includes(cycle.split('\n')[0] as string))).toEqual([]);
    expect(BEING_REMOVED.cycles.filter((known) => !cycles.some((cycle) => cycle.startsWith(`${known}\n`)))).toEqual([]);
  });

  it('has no non-test source file over 400 lines', () => {
    const long = files
      .filter((file) => !file.endsWith('.test.ts'))
      .map((file) => ({ file: relative(SRC, file), lines: readFileSync(file, 'utf8').split('\n').length - 1 }))
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ file, lines }) => `src/${file.split(sep).join('/')}: ${lines} lines`);
    expect(long.filter((breach) => !BEING_REMOVED.long.some((known) => breach.startsWith(`${known}:`)))).toEqual([]);
    expect(BEING_REMOVED.long.filter((known) => !long.some((breach) => breach.startsWith(`${known}:`)))).toEqual([]);
  });

  it('opens ledger backends only inside src/ledger/: nothing else imports better-sqlite3 or a backend module', () => {
    const leaks: string[] = [];
    for (const file of files) {
      const name = relative(SRC, file).split(sep).join('/');
      if (name.startsWith('ledger/') || name.endsWith('.test.ts')) continue;
      const text = readFileSync(file, 'utf8');
      if (/from\s*['"]better-sqlite3['"]|import\(\s*['"]better-sqlite3['"]/.test(text)) leaks.push(`src/${name} → better-sqlite3`);
      for (const specifier of importsOf(text)) {
        const target = relative(SRC, resolve(dirname(file), specifier))
          .split(sep)
          .join('/');
        if (/^ledger\/(sqlite|memory|postgres)\//.test(target)) leaks.push(`src/${name} → ${specifier}`);
      }
    }
    expect(leaks).toEqual([]);
  });

  it('finds a cycle and names the imports that make it', () => {
    const graph = new Map([
      ['src/a', new Map([['src/b', 'a/x.ts → ../b/y.js']])],
      ['src/b', new Map([['src/c', 'b/y.ts → ../c/z.js']])],
      ['src/c', new Map([['src/a', 'c/z.ts → ../a/x.js']])],
      ['src/d', new Map([['src/a', 'd/w.ts → ../a/x.js']])],
    ]);
    expect(folderCycles(graph)).toEqual([
      'src/a → src/b → src/c → src/a\n  a/x.ts → ../b/y.js\n  b/y.ts → ../c/z.js\n  c/z.ts → ../a/x.js',
    ]);
  });

  it('reads static, re-export, side-effect and dynamic imports', () => {
    expect(
      importsOf(
        `import { a } from './a.js';\nimport type { B } from '../b/b.js';\nexport * from "./c.js";\nimport './d.js';\nconst e = await import('./e.js');\nimport x from 'node:fs';`,
      ),
    ).toEqual(['./a.js', '../b/b.js', './c.js', './d.js', './e.js']);
  });
});
