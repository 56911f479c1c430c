/**
 * Starts a private nginx (Debian's nginx-light) for a test: its own prefix, config, logs and pid
 * file in a temp dir, listening on a free port of 127.0.0.1. The `http` block's contents come from
 * the test and must define a `log_format` named `attempts`; `PORT` in them is replaced by the port.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';
import { tempDir } from './temp.js';

export const NGINX_BIN = ['/usr/sbin/nginx', '/usr/local/sbin/nginx'].find((path) => existsSync(path));

export interface Nginx {
  readonly port: number;
  readonly prefix: string;
  readonly accessLog: string;
  stop(): Promise<void>;
}

/** A port nobody listens on now (the kernel's pick for port 0). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited with code ${child.exitCode}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms`);
}

export async function startNginx(httpBlock: string): Promise<Nginx> {
  if (!NGINX_BIN) throw new Error('nginx is not installed (apt-get install -y nginx-light)');
  const prefix = tempDir('batchguard-nginx-');
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  mkdirSync(join(prefix, 'temp'), { recursive: true });
  const accessLog = join(prefix, 'logs', 'access.log');
  // Retry in the rare case that another process takes the port between the pick and the listen.
  for (let tries = 0; ; tries++) {
    const port = await freePort();
    const conf = join(prefix, 'nginx.conf');
    writeFileSync(
      conf,
      `
daemon off;
master_process off;
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')} warn;
events { worker_connections 256; }
http {
  client_body_temp_path ${join(prefix, 'temp')};
  ${httpBlock.replaceAll('PORT', String(port))}
  access_log ${accessLog} attempts;
}
`,
    );
    const test = spawnSync(NGINX_BIN, ['-t', '-p', prefix, '-c', conf], { encoding: 'utf8' });
    if (test.status !== 0) throw new Error(`nginx refused its config: ${test.stderr}`);
    const child = spawn(NGINX_BIN, ['-p', prefix, '-c', conf], { stdio: 'ignore' });
    try {
      await waitForPort(port, child);
    } catch (error) {
      child.kill('SIGKILL');
      if (tries < 3) continue;
      throw error;
    }
    return {
      port,
      prefix,
      accessLog,
      stop: () =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    };
  }
}
