/**
 * Which browser origins may use the API: the page's own (same origin) and
 * those listed in CORS_ORIGINS. Used for CORS on HTTP and for the Origin
 * check of the WebSocket upgrade, where browsers send Origin but no CORS
 * applies, so without a check any web page could read /ws with its
 * visitor's network position.
 */

/** `CORS_ORIGINS`: each entry an exact origin, `scheme://host[:port]`, as browsers send it. */
export function parseOrigins(text: string): string[] {
  const origins = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const o of origins) {
    let canonical: string | undefined;
    try {
      canonical = new URL(o).origin;
    } catch {}
    // URL's origin drops a path, a default port and upper case: requiring
    // equality means the entry is written exactly as a browser sends Origin.
    if (canonical !== o || !/^https?:$/.test(new URL(o).protocol)) {
      throw new Error(`${JSON.stringify(o)} is not an origin: write http(s)://host[:port], comma-separated, no path or trailing slash`);
    }
  }
  return [...new Set(origins)];
}

/**
 * True when `origin` names the host and port the request was sent to (its
 * Host header). The scheme is not compared: behind a TLS proxy the API
 * cannot tell which one the page used.
 */
export function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    const o = new URL(origin);
    // Through URL on both sides, so `Host: example.com:80` equals `http://example.com`.
    return o.host === new URL(`${o.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/**
 * No Origin: not a browser (curl, the terminal feed), nothing to guard.
 * `Origin: null` (a sandboxed frame, a file:// page) is never allowed.
 */
export function isOriginAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (origin === undefined) return true;
  return allowed.includes(origin) || isSameOrigin(origin, host);
}
