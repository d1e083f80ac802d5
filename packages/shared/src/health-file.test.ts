import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { isHealthFileFresh, keepHealthFile } from './health-file.js';

const dir = mkdtempSync(join(tmpdir(), 'health-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const log = createLogger('test', 'silent');

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

describe('keepHealthFile', () => {
  it('writes the file while the check says healthy, and leaves it alone otherwise', async () => {
    const path = join(dir, 'healthy');
    let healthy = false;
    let checks = 0;
    const h = keepHealthFile(path, () => Promise.resolve((checks++, healthy)), log, 5);
    await until(() => checks >= 3);
    expect(existsSync(path)).toBe(false);
    healthy = true;
    await until(() => existsSync(path));
    expect(readFileSync(path, 'utf8')).toMatch(/^\d{4}-\d\d-\d\dT/);
    h.stop();
    h.stop();
  });

  it('counts a check that throws as unhealthy', async () => {
    const path = join(dir, 'throws');
    let checks = 0;
    const h = keepHealthFile(path, () => (checks++, Promise.reject(new Error('Redis away'))), log, 5);
    await until(() => checks >= 3);
    h.stop();
    expect(existsSync(path)).toBe(false);
  });
});

describe('isHealthFileFresh', () => {
  it('is true for a recent file, false for an old or missing one', () => {
    const path = join(dir, 'age');
    expect(isHealthFileFresh(path)).toBe(false);
    writeFileSync(path, 'x');
    expect(isHealthFileFresh(path, 20_000)).toBe(true);
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    expect(isHealthFileFresh(path, 20_000)).toBe(false);
  });
});
