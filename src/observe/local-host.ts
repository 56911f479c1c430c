/**
 * DNS rebinding: a web page the user visits can point a name of its own at 127.0.0.1 and then read
 * a local server as if it were its own origin (the dashboard's keys and error messages, the
 * metrics). The browser still sends that name in `Host`. So a server bound to a loopback address
 * answers only requests addressed to a loopback name (localhost, 127.x.x.x, [::1]); one bound to
 * another address, which the user chose to expose, answers any name it is reached by.
 */

/** Whether `address` (what the server listens on) is a loopback address or name. */
export function isLoopback(address: string): boolean {
  const name = address.toLowerCase();
  return name === 'localhost' || name.endsWith('.localhost') || name === '::1' || name === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/**
 * Whether a request with this `Host` header may be answered by a server listening on `bound`. A
 * request without one (HTTP/1.0, a hand-made client) cannot come from a browser, and is answered.
 */
export function hostAllowed(bound: string, host: string | undefined): boolean {
  if (!isLoopback(bound) || host === undefined) return true;
  return isLoopback(hostName(host));
}

/** The name of a `Host` header, without its port: `localhost:8080` → `localhost`, `[::1]:80` → `[::1]`. */
function hostName(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** The answer to a request `hostAllowed` refused: 403, saying why and how to serve other names. */
export function misaddressed(host: string, flag: string): string {
  return `refused: this server answers requests addressed to localhost, 127.0.0.1 or [::1], not to ${JSON.stringify(host)} (a page elsewhere may have pointed that name here); to serve other names, listen on another address with ${flag}\n`;
}
