#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

const code = await main(process.argv);
// Exit explicitly: a handler's open sockets or timers must not keep a finished job alive. Wait for
// stdout to drain first, so a piped JSON summary is never cut short.
process.stdout.write('', () => process.exit(code));
