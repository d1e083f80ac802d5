/**
 * Answers compressed as the client accepts (br, gzip), /candles' from its
 * cache with the ETag kept (weak, the same tag in every encoding), and the
 * Cache-Control of a /candles window: a day once no trade can change it,
 * `no-cache` otherwise.
 */
import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SETTLED_CACHE_CONTROL } from '../src/routes/candles.js';
import { startTestApi, type TestApi } from './helpers.js';
import { MIN, NOW, PAIR, T0, seedMarket } from './market.js';

let t: TestApi;
beforeAll(async () => {
  // MAX_LATE 1s: by the market's replay clock (00:11:41) a window ending by 00:10:40 is settled.
  t = await startTestApi({ MAX_LATE: '1s' });
  await seedMarket(t);
});
afterAll(() => t.stop());

/** A raw GET (fetch() would decompress and hide the headers' effect). */
function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    httpGet(`${t.api.url}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

describe('compression', () => {
  const path = `/candles/${PAIR}/1m`;

  it('sends /candles as br or gzip as accepted, the same bytes once decoded, with one ETag for every encoding', async () => {
    const plain = await get(path);
    expect(plain.status).toBe(200);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.length).toBeGreaterThan(1024);
    const etag = plain.headers.etag!;
    expect(etag).toMatch(/^"/);

    const br = await get(path, { 'Accept-Encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toMatch(/Accept-Encoding/i);
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);
    expect(br.body.length).toBeLessThan(plain.body.length / 3);
    expect(br.headers.etag).toBe(`W/${etag}`);

    const gz = await get(path, { 'Accept-Encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
    // Kept: the second time, the very same compressed bytes.
    expect((await get(path, { 'Accept-Encoding': 'gzip' })).body.equals(gz.body)).toBe(true);
    expect((await get(path, { 'Accept-Encoding': 'br;q=0.1, gzip' })).headers['content-encoding']).toBe('gzip');

    // An ETag got in one encoding revalidates in any.
    for (const [tag, enc] of [[etag, 'br'], [`W/${etag}`, 'identity'], [`W/${etag}`, 'gzip']]) {
      const r = await get(path, { 'If-None-Match': tag!, 'Accept-Encoding': enc! });
      expect(r.status, `${tag} ${enc}`).toBe(304);
    }
  });

  it('leaves small bodies alone and compresses the other routes too', async () => {
    const small = await get(`${path}?limit=2`, { 'Accept-Encoding': 'br' });
    expect(small.headers['content-encoding']).toBeUndefined();
    const doc = await get('/openapi.json', { 'Accept-Encoding': 'gzip' });
    expect(doc.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(doc.body).toString())).toMatchObject({ openapi: '3.1.0' });
  });
});

describe('Cache-Control of /candles', () => {
  const cacheControl = async (query: string) => (await get(`/candles/${PAIR}/1m${query}`)).headers['cache-control'];

  it('keeps a window for a day once no late trade can change it, else asks again each time', async () => {
    // Ends at 00:05, more than MAX_LATE (+ 60 s of clock skew) before the clock.
    expect(await cacheControl(`?from=${T0}&to=${T0 + 5 * MIN}`)).toBe(SETTLED_CACHE_CONTROL);
    // Its last bucket [00:10, 00:11) ends 00:11, 41 s before the clock: a late trade may still revise it.
    expect(await cacheControl(`?from=${T0}&to=${T0 + 11 * MIN}`)).toBe('no-cache');
    // A `to` inside a bucket: the bucket is in the window, its end counts.
    expect(await cacheControl(`?to=${T0 + 10 * MIN + 1}`)).toBe('no-cache');
    expect(await cacheControl(`?to=${T0 + 10 * MIN}`)).toBe(SETTLED_CACHE_CONTROL);
    // The newest candles and the forming one.
    expect(await cacheControl('')).toBe('no-cache');
    expect(await cacheControl(`?to=${NOW + 10 * MIN}`)).toBe('no-cache');
  });
});
