/**
 * docker-compose.yml: valid for Compose (`config -q`), and, as Compose reads
 * it, Redis that keeps its data and never evicts, and the three apps waiting
 * for it. No Docker engine is needed: `config` only reads the file.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** `docker compose` (v2) if it works, else `docker-compose` (v1 or v2), else none. */
function findCompose(): string[] | undefined {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    const r = spawnSync(cmd[0]!, [...cmd.slice(1), 'version'], { encoding: 'utf8', timeout: 30_000 });
    if (r.status === 0) return cmd;
  }
  return undefined;
}

const compose = findCompose();

// An empty env file stands in for a developer's .env, and only PATH and HOME
// are passed on, so what the file says is tested, not the machine's settings.
const scratch = mkdtempSync(join(tmpdir(), 'compose-test-'));
const emptyEnvFile = join(scratch, 'env');
writeFileSync(emptyEnvFile, '');
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function config(args: string[], env: Record<string, string> = {}) {
  const [cmd, ...pre] = compose!;
  const r = spawnSync(cmd!, [...pre, '--env-file', emptyEnvFile, 'config', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
  if (r.status !== 0) throw new Error(`${compose!.join(' ')} config ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return r.stdout;
}

interface Service {
  image?: string;
  build?: { target?: string };
  command?: string | string[];
  environment?: Record<string, string | null>;
  depends_on?: Record<string, { condition?: string }>;
  restart?: string;
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  ports?: (string | { host_ip?: string; target?: number; published?: string | number })[];
  healthcheck?: { test?: string | string[] };
}
interface Resolved {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

let json: boolean | undefined;

/** The file as Compose resolves it: JSON from Compose v2; v1 prints YAML only, read with the PyYAML it depends on. */
function resolved(env: Record<string, string> = {}): Resolved {
  if (json !== false) {
    try {
      const out = JSON.parse(config(['--format', 'json'], env)) as Resolved;
      json = true;
      return out;
    } catch (err) {
      if (json) throw err;
      json = false;
    }
  }
  const r = spawnSync('python3', ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
    input: config([], env),
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`could not read the YAML of docker-compose config: ${r.stderr || r.error}`);
  return JSON.parse(r.stdout) as Resolved;
}

const words = (command: string | string[] | undefined) => (Array.isArray(command) ? command.join(' ') : (command ?? ''));

// Skipped only where neither `docker compose` nor `docker-compose` is
// installed: .ci/run installs Debian's docker-compose, so CI runs it;
// elsewhere install Docker Compose (or `apt-get install docker-compose`).
describe.skipIf(!compose)(`docker-compose.yml, read by ${compose?.join(' ') ?? 'nothing (not installed)'}`, () => {
  let defaults: Resolved;
  beforeAll(() => {
    defaults = resolved();
  });

  it('is valid (config -q)', () => {
    expect(() => config(['-q'])).not.toThrow();
  });

  it('runs Redis 7 with an append-only file, noeviction, a named volume and a health check', () => {
    const { services, volumes } = defaults;
    const redis = services.redis!;
    expect(redis.image).toMatch(/^redis:7/);
    expect(words(redis.command)).toMatch(/--appendonly yes\b/);
    expect(words(redis.command)).toMatch(/--maxmemory-policy noeviction\b/);
    const data = (redis.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0] : v.source));
    expect(data.some((name) => name !== undefined && Object.keys(volumes ?? {}).includes(name))).toBe(true);
    expect(words(redis.healthcheck?.test)).toMatch(/redis-cli ping/);
  });

  it('builds ingest, worker and api from the Dockerfile, each waiting for a healthy Redis', () => {
    const { services } = defaults;
    for (const app of ['ingest', 'worker', 'api']) {
      const s = services[app];
      expect(s, app).toBeDefined();
      expect(s!.build?.target, app).toBe(app);
      expect(s!.depends_on?.redis?.condition, app).toBe('service_healthy');
      expect(s!.restart, app).toBe('unless-stopped');
      expect(s!.environment?.REDIS_URL, app).toBe('redis://redis:6379');
      expect(s!.environment?.SOURCE, app).toBe('poloniex');
    }
  });

  it('publishes the API on loopback only, listening on every address inside its container', () => {
    const api = defaults.services.api!;
    expect(api.environment?.HOST).toBe('0.0.0.0');
    const ports = (api.ports ?? []).map((p) =>
      typeof p === 'string' ? p.replace(/\/tcp$/, '') : `${p.host_ip}:${p.published}:${p.target}`,
    );
    expect(ports).toEqual(['127.0.0.1:3000:3000']);
  });

  it('takes SOURCE and the admin credentials from the environment', () => {
    const { services } = resolved({ SOURCE: 'simulated', ADMIN_USER: 'ops', ADMIN_PASSWORD: 'secret' });
    for (const app of ['ingest', 'worker', 'api']) expect(services[app]!.environment?.SOURCE, app).toBe('simulated');
    expect(services.api!.environment).toMatchObject({ ADMIN_USER: 'ops', ADMIN_PASSWORD: 'secret' });
  });
});
