/**
 * How the dashboard's files are served (no browser needed): content types,
 * cache headers, the page's CSP, and the JSON 404 for anything else.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chartLibraryFile, contentSecurityPolicy } from '../src/dashboard/dashboard.js';
import { startTestApi, type ErrorBody, type TestApi } from './helpers.js';

let t: TestApi;
beforeAll(async () => {
  t = await startTestApi();
});
afterAll(() => t.stop());

describe('the dashboard files', () => {
  it('serves the page at / with a same-origin CSP', async () => {
    const res = await t.fetch('/');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const host = new URL(t.api.url).host;
    const csp = res.headers.get('content-security-policy');
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain(`connect-src 'self' ws://${host} wss://${host}`);
    expect(csp).not.toContain('unsafe-inline');
    const html = await res.text();
    expect(html).toContain('<script type="module" src="dashboard.js"></script>');
    // Under that CSP nothing inline may be needed: no inline script, no style attribute.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\sstyle=/);
  });

  it('serves the scripts, the stylesheet and the chart library with their types', async () => {
    for (const [path, type] of [
      ['/dashboard.js', 'text/javascript; charset=utf-8'],
      ['/chart-view.js', 'text/javascript; charset=utf-8'],
      ['/chart-data.js', 'text/javascript; charset=utf-8'],
      ['/live-feed.js', 'text/javascript; charset=utf-8'],
      ['/dashboard.css', 'text/css; charset=utf-8'],
      ['/favicon.svg', 'image/svg+xml'],
      ['/vendor/lightweight-charts.js', 'text/javascript; charset=utf-8'],
    ] as const) {
      const res = await t.fetch(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type'), path).toBe(type);
      expect(res.headers.get('cache-control'), path).toBe('no-cache');
      expect(res.headers.get('etag'), path).toBeTruthy();
      // Not the page's policy: the API's own (guards/headers.ts), which
      // matters if a file is opened as a document (an SVG could script).
      expect(res.headers.get('content-security-policy'), path).toMatch(/^default-src 'none'/);
      await res.arrayBuffer();
    }
  });

  it('serves the library from node_modules, as an ES module that exports createChart', async () => {
    const res = await t.fetch('/vendor/lightweight-charts.js');
    const body = await res.text();
    // Compared by size and tail: a 200 kB mismatch printed whole helps no one.
    const file = readFileSync(chartLibraryFile(), 'utf8');
    expect(body.length).toBe(file.length);
    expect(body.slice(-2000)).toBe(file.slice(-2000));
    expect(body.slice(-2000)).toMatch(/export\s*\{[^}]*\bcreateChart\b/);
  });

  it('answers a revalidation with 304', async () => {
    const first = await t.fetch('/dashboard.js');
    await first.arrayBuffer();
    // Not fetch(): a conditional fetch() adds "Cache-Control: no-cache", which rightly forbids a 304.
    const status = await new Promise<number | undefined>((resolve, reject) => {
      http
        .get(`${t.api.url}/dashboard.js`, { headers: { 'If-None-Match': first.headers.get('etag') ?? '' } }, (res) => {
          res.resume();
          resolve(res.statusCode);
        })
        .on('error', reject);
    });
    expect(status).toBe(304);
  });

  it('answers HEAD, refuses other methods, and leaves the 404 JSON for anything else', async () => {
    const head = await t.fetch('/', { method: 'HEAD' });
    expect(head.status).toBe(200);
    const post = await t.get<ErrorBody>('/', { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.body.error.code).toBe('method_not_allowed');
    for (const path of ['/index.html', '/tsconfig.json', '/vendor/lightweight-charts.d.ts', '/vendor/', '/nope.js', '/../package.json']) {
      const r = await t.get<ErrorBody>(path);
      expect(r.status, path).toBe(404);
      expect(r.body.error.code, path).toBe('not_found');
    }
  });
});

describe('contentSecurityPolicy', () => {
  it('names the WebSocket of a sane Host only', () => {
    expect(contentSecurityPolicy('example.com:8080')).toContain("connect-src 'self' ws://example.com:8080 wss://example.com:8080;");
    expect(contentSecurityPolicy('[::1]:3000')).toContain('ws://[::1]:3000');
    expect(contentSecurityPolicy('evil; script-src *')).toContain("connect-src 'self';");
    expect(contentSecurityPolicy(undefined)).toContain("connect-src 'self';");
  });
});
