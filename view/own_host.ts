/**
 * Which `Host` a request to the page may carry. The server listens on
 * 127.0.0.1 only, but that does not stop a web page the user visits from
 * pointing a name of its own at 127.0.0.1 (DNS rebinding) and reading the
 * run's events, paths and weights through the user's browser: such a
 * request arrives with the page's name in `Host`, and is refused.
 *
 * @module
 */

/** The names this machine's loopback interface goes by in a browser's address bar. */
const LOOPBACK_NAMES = ["127.0.0.1", "localhost", "[::1]"];

/** The HTTP port a browser leaves out of `Host`. */
const DEFAULT_PORT = 80;

/**
 * True when `host` (a request's `Host` header, `null` when missing) names
 * the page's own address: `127.0.0.1:PORT`, `localhost:PORT` or
 * `[::1]:PORT` (any case; without `:PORT` on port 80, as browsers send it).
 */
export function isOwnHost(host: string | null, port: number): boolean {
  if (host === null) return false;
  const value = host.toLowerCase();
  return LOOPBACK_NAMES.some((name) =>
    value === `${name}:${port}` || (port === DEFAULT_PORT && value === name)
  );
}
