/**
 * /admin/* (Bull Board, its API and files, the dead-letter list) against
 * other web pages, which a browser lets reach the API even on a loopback
 * address:
 *
 * - Cross-site requests. Any page may send a "simple" request (a form POST,
 *   a `no-cors` fetch with a text/plain body) to any address with no
 *   preflight; it cannot read the answer, but the board acts on it: a job
 *   added, a queue paused or cleaned. Basic auth does not stop it either
 *   once the browser holds the credentials. So every request that is not a
 *   read (GET, HEAD, OPTIONS) must come from the API's own pages: an Origin
 *   naming the request's Host (see isSameOrigin), and no Sec-Fetch-Site
 *   other than same-origin. Browsers send Origin on every such request, the
 *   board's own fetch() calls included; a client that is not a browser
 *   (curl) sends neither header and is let through.
 * - DNS rebinding. A page at http://evil.example:3000 whose name the
 *   attacker points at 127.0.0.1 is same-origin with itself: its requests
 *   pass the Origin check and reach an open board. They carry its name in
 *   Host, though. While the board has no credentials, /admin answers only
 *   to a loopback Host: localhost, 127.x.x.x or [::1], with a port or not.
 *   With credentials the name does not matter: the attacker does not have them.
 *
 * Mounted on /admin before the board and the dead-letter route, so Express
 * matches it on exactly the paths they answer (any case, any suffix).
 */
import type { RequestHandler } from 'express';
import { HttpError } from '../errors.js';
import { isSameOrigin } from './origins.js';

export const ADMIN_PREFIX = '/admin';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i;

export function isLoopbackHostHeader(host: string | undefined): boolean {
  return host !== undefined && LOOPBACK_HOST.test(host);
}

/** The checks above; `open`: the board has no credentials. */
export function adminDoors(open: boolean): RequestHandler {
  return (req, res, next) => {
    const host = req.headers.host;
    // A refusal is counted under /admin in the metrics, not as unmatched.
    const refuse = (code: 'forbidden_host' | 'forbidden_origin', message: string) => {
      res.locals.route = ADMIN_PREFIX;
      return new HttpError(403, code, message);
    };
    if (open && !isLoopbackHostHeader(host)) {
      throw refuse(
        'forbidden_host',
        'without ADMIN_USER and ADMIN_PASSWORD the admin pages answer only to a loopback host name (localhost, 127.0.0.1, [::1])',
      );
    }
    if (READS.has(req.method)) {
      next();
      return;
    }
    const origin = req.headers.origin;
    const site = req.headers['sec-fetch-site'];
    if ((origin !== undefined && !isSameOrigin(origin, host)) || (site !== undefined && site !== 'same-origin')) {
      throw refuse('forbidden_origin', `${req.method} on the admin pages is allowed only from the API's own pages, not from another site`);
    }
    next();
  };
}
