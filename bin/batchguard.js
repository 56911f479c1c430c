#!/usr/bin/env node
import module from 'node:module';

// Node 22.1 and later keep V8's compiled code of the modules loaded from here on between runs,
// which is part of every run's start-up; Node 20 has no such API, and there this does nothing.
module.enableCompileCache?.();
const { main, exitWith } = await import('../dist/bundle/cli.js');

const code = await main(process.argv);
// Exit explicitly: a handler's open sockets or timers must not keep a finished job alive. Wait for
// stdout to drain first, so a piped JSON summary is never cut short. With batchguard's own exit,
// not `process.exit`, which the job's code may have replaced or hooked (src/cli/process-exit.ts).
process.stdout.write('', () => exitWith(code));
