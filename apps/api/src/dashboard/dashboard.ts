/**
 * The dashboard at `/` (README, "The dashboard"): a static page (apps/api/public/, plain
 * HTML, CSS and ES modules, no build step) and the chart library, served by
 * the API itself from node_modules so the page works offline and from the
 * same origin as the data it reads (/pairs, /candles, /ws).
 */
import { readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Router, type Request, type RequestHandler, type Response } from 'express';
import { methodNotAllowed } from '../errors.js';

/** apps/api/public, from src/dashboard/ (tsx, vitest) and dist/dashboard/ (built) alike. */
export const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url));

/** Where the page imports the chart library from (see public/dashboard.js). */
export const VENDOR_CHART_PATH = '/vendor/lightweight-charts.js';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * The library's ES module build with its one dependency (fancy-canvas)
 * bundled in, so the browser needs no import map. The package's `exports`
 * hide dist/, hence the path from its package.json.
 */
export function chartLibraryFile(): string {
  const require = createRequire(import.meta.url);
  const file = join(dirname(require.resolve('lightweight-charts/package.json')), 'dist', 'lightweight-charts.standalone.production.mjs');
  if (!statSync(file, { throwIfNoEntry: false })?.isFile()) {
    throw new Error(`dashboard: ${file} is missing: run pnpm install (lightweight-charts is a dependency of apps/api)`);
  }
  return file;
}

/**
 * Only what the page is made of: the top-level .html, .js, .css and .svg
 * files of public/ (not the type shims or tsconfig beside them), each at its own
 * name, index.html at `/`.
 */
function pageFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  for (const name of readdirSync(dir)) {
    if (!(extname(name) in CONTENT_TYPES) || !statSync(join(dir, name)).isFile()) continue;
    files.set(name === 'index.html' ? '/' : `/${name}`, join(dir, name));
  }
  if (!files.has('/')) throw new Error(`dashboard: no index.html in ${dir}`);
  return files;
}

/** A Host header we can echo into a CSP source: host, IPv4, [IPv6], optional port. */
const HOST_SOURCE = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * Scripts, styles and everything else from this origin only; the page has
 * no inline script or style, so nothing needs 'unsafe-inline'. connect-src
 * names ws: and wss: of this host as well as 'self', since browsers that
 * predate CSP 3 do not count a WebSocket to the page's own host as 'self'.
 * data: images: the library draws its attribution logo from one.
 */
export function contentSecurityPolicy(host: string | undefined): string {
  const sockets = host && HOST_SOURCE.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `connect-src 'self'${sockets}`,
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

function serve(file: string, contentType: string, isPage: boolean): RequestHandler {
  return (req: Request, res: Response, next) => {
    res.set({
      'Content-Type': contentType,
      // Revalidate every time (a 304 thanks to the ETag): a deploy shows at
      // the next reload, and the page and the library it was written for
      // never mix versions. These few files are small next to the data.
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    if (isPage) res.set('Content-Security-Policy', contentSecurityPolicy(req.headers.host));
    // The paths are ours, never the request's; 'allow' because pnpm keeps
    // packages under node_modules/.pnpm/, which send would take for a dotfile.
    res.sendFile(file, { etag: true, lastModified: true, cacheControl: false, dotfiles: 'allow' }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  };
}

export interface DashboardOptions {
  /** The page's folder; default apps/api/public. */
  readonly publicDir?: string;
}

/** The router for app.ts's `dashboard` slot. Throws at creation if a file is missing, not at the first request. */
export function createDashboard(opts: DashboardOptions = {}): Router {
  const router = Router();
  const routes = pageFiles(opts.publicDir ?? PUBLIC_DIR);
  routes.set(VENDOR_CHART_PATH, chartLibraryFile());
  for (const [path, file] of routes) {
    const type = CONTENT_TYPES[extname(file) === '.mjs' ? '.js' : extname(file)] ?? 'application/octet-stream';
    router
      .route(path)
      .get(serve(file, type, path === '/'))
      .all(methodNotAllowed('GET, HEAD'));
  }
  return router;
}
