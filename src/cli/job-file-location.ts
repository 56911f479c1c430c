/**
 * Where in a job file the error that stopped it loading is (`:line:column`), for the one error line:
 * "Unexpected token ';'" alone leaves a person to search the file. Node gives an ES module's syntax
 * error no position (its printed arrow is not on the error object), so the file is checked again
 * with `node --check`, only after a failure; a throw at the module's top level has its position in
 * its stack.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { readProp } from '../policy/error-fields.js';

/** `:line:column` of the error in the job file at `path`, or undefined when it is not known to be there. */
export function positionInJobFile(error: unknown, path: string): string | undefined {
  if (error instanceof SyntaxError) return syntaxErrorPosition(error.message, path);
  const stack = readProp(error, 'stack');
  if (typeof stack !== 'string') return undefined;
  // The first frame in the job file itself: the throw, or the call in the job file that led to it.
  const url = pathToFileURL(path).href;
  for (const line of stack.split('\n')) {
    const at = line.lastIndexOf(`${url}:`);
    if (at === -1) continue;
    const position = /^:(\d+):(\d+)/.exec(line.slice(at + url.length));
    if (position) return `:${position[1]}:${position[2]}`;
  }
  return undefined;
}

/**
 * The position `node --check` reports, when it reports the same syntax error (a job file that
 * imports a broken module checks clean: its position would not be the error's). A `.js` file in a
 * folder without `"type"` is checked again as an ES module from stdin: Node 20 passes such a file
 * with ES module syntax and a syntax error (it exits 0), where `import()` fails on it.
 */
function syntaxErrorPosition(message: string, path: string): string | undefined {
  const asFile = spawnSync(process.execPath, ['--check', path], { encoding: 'utf8', timeout: 10_000 });
  const position = checkedPosition(asFile.stderr, message);
  if (position !== undefined || asFile.status !== 0) return position;
  const asModule = spawnSync(process.execPath, ['--input-type=module', '--check'], {
    encoding: 'utf8',
    timeout: 10_000,
    input: readFileSync(path, 'utf8'),
  });
  return checkedPosition(asModule.stderr, message);
}

/** `:line:column` from the report of `node --check` when its error is `message`. */
function checkedPosition(stderr: string | null, message: string): string | undefined {
  const lines = (stderr ?? '').split('\n');
  const head = /:(\d+)$/.exec(lines[0] ?? '');
  const caret = (lines[2] ?? '').indexOf('^');
  if (!head || !lines.includes(`SyntaxError: ${message}`)) return undefined;
  return caret === -1 ? `:${head[1]}` : `:${head[1]}:${caret + 1}`;
}
