/**
 * CORS, closed unless configured: with CORS_ORIGINS unset no response says
 * Access-Control-Allow-Origin, so a script on another origin cannot read
 * anything (the dashboard is same-origin and needs no CORS). With it set,
 * those origins, exactly, may GET (and HEAD) the read API; no credentials,
 * no other method. Nothing under /admin (the board) is ever shared: it is
 * for operators, not for other sites.
 */
import type { RequestHandler } from 'express';

/** How long a browser may cache a preflight's answer (s). */
const PREFLIGHT_MAX_AGE = 600;
const ADMIN = /^\/admin(?:\/|$)/i;

export function cors(allowed: readonly string[]): RequestHandler {
  return (req, res, next) => {
    if (allowed.length === 0) {
      next();
      return;
    }
    // The answer depends on Origin: caches must key on it.
    res.vary('Origin');
    const origin = req.headers.origin;
    if (origin === undefined || !allowed.includes(origin) || ADMIN.test(req.path)) {
      next();
      return;
    }
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (!preflight) {
      if (req.method === 'GET' || req.method === 'HEAD') res.set('Access-Control-Allow-Origin', origin);
      next();
      return;
    }
    // A preflight for anything but a GET or HEAD is left without an
    // allowance: the route answers it (405), and the browser refuses.
    const method = String(req.headers['access-control-request-method']).toUpperCase();
    if (method !== 'GET' && method !== 'HEAD') {
      next();
      return;
    }
    res
      .status(204)
      .set({
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Methods': 'GET, HEAD',
        'Access-Control-Max-Age': String(PREFLIGHT_MAX_AGE),
      })
      .end();
  };
}
