/**
 * docker-compose.yml: valid for Compose (`config -q`), and, as Compose reads
 * it, Redis that keeps its data and never evicts and is not on the host's
 * ports, the three apps waiting for it, each passed every variable its app
 * reads (the apps' own zod schemas say which), each with a health check, and
 * the board's credentials required. The `cluster` profile likewise: six
 * cluster nodes, a one-shot service that makes them a cluster, and two of
 * each app on REDIS_CLUSTER_NODES. No Docker engine is needed: `config`
 * only reads the file.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiEnv } from '../apps/api/src/env.js';
import { ingestEnv } from '../apps/ingest/src/env.js';
import { workerEnv } from '../apps/worker/src/env.js';

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

/** The board's credentials, without which the file is refused (see the last test). */
const ADMIN = { ADMIN_USER: 'ops', ADMIN_PASSWORD: 'secret' };
const OVERRIDE = 'docker-compose.redis-port.yml';
/** The cluster profile's Redis nodes and apps. */
const CLUSTER_NODES = [1, 2, 3, 4, 5, 6].map((i) => `cluster-redis-${i}`);
const CLUSTER_APPS = ['ingest', 'worker', 'api'].flatMap((app) => [`cluster-${app}-1`, `cluster-${app}-2`]);

function run(args: string[], env: Record<string, string>) {
  const [cmd, ...pre] = compose!;
  return spawnSync(cmd!, [...pre, '--env-file', emptyEnvFile, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
  });
}

function config(args: string[], env: Record<string, string> = ADMIN, files: string[] = [], profiles: string[] = []) {
  const r = run([...files.flatMap((f) => ['-f', f]), ...profiles.flatMap((p) => ['--profile', p]), 'config', ...args], env);
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
  profiles?: string[];
  entrypoint?: string | string[];
}
interface Resolved {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

let json: boolean | undefined;

/** The file as Compose resolves it: JSON from Compose v2; v1 prints YAML only, read with the PyYAML it depends on. */
function resolved(env: Record<string, string> = ADMIN, files: string[] = [], profiles: string[] = []): Resolved {
  if (json !== false) {
    try {
      const out = JSON.parse(config(['--format', 'json'], env, files, profiles)) as Resolved;
      json = true;
      return out;
    } catch (err) {
      if (json) throw err;
      json = false;
    }
  }
  const r = spawnSync('python3', ['-c', 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], {
    input: config([], env, files, profiles),
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

  it('is valid (config -q), with and without the cluster profile', () => {
    expect(() => config(['-q'])).not.toThrow();
    expect(() => config(['-q'], ADMIN, [], ['cluster'])).not.toThrow();
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
    }
    expect(services.ingest!.environment?.SOURCE).toBe('poloniex');
  });

  // A name listed with no value is passed on from the environment or .env
  // when set there (Compose drops it from `config` when unset), so the
  // check sets every variable and reads them back.
  it('passes each app every variable its schema reads, and none it does not', () => {
    const fixed: Record<string, string> = { REDIS_URL: 'redis://redis:6379', HOST: '0.0.0.0', PORT: '3000', HEALTH_FILE: '/tmp/candlestack.health' };
    const names = new Set([apiEnv, ingestEnv, workerEnv].flatMap((s) => Object.keys(s.shape)));
    const env = Object.fromEntries([...names].map((n) => [n, `set-${n}`]));
    const { services } = resolved(env, [], ['cluster']);
    const onCluster = { REDIS_URL: 'redis://cluster-redis-1:6379', REDIS_CLUSTER_NODES: CLUSTER_NODES.map((n) => `${n}:6379`).join(',') };
    for (const [app, schema] of [['api', apiEnv], ['ingest', ingestEnv], ['worker', workerEnv]] as const) {
      for (const service of [app, `cluster-${app}-1`, `cluster-${app}-2`]) {
        const passed = services[service]!.environment ?? {};
        const want = service === app ? fixed : { ...fixed, ...onCluster };
        expect(Object.keys(passed).sort(), service).toEqual(Object.keys(schema.shape).sort());
        for (const name of Object.keys(schema.shape)) expect(passed[name], `${service} ${name}`).toBe(want[name] ?? `set-${name}`);
      }
    }
  });

  it('gives every service a health check; the ingester and the worker read their HEALTH_FILE', () => {
    const { services } = resolved(ADMIN, [], ['cluster']);
    expect(Object.keys(services).length).toBe(4 + CLUSTER_NODES.length + 1 + 6);
    for (const [name, s] of Object.entries(services)) expect(words(s.healthcheck?.test), name).not.toBe('');
    for (const app of ['ingest', 'worker', 'cluster-ingest-1', 'cluster-ingest-2', 'cluster-worker-1', 'cluster-worker-2']) {
      const s = services[app]!;
      const file = s.environment?.HEALTH_FILE;
      expect(file, app).toMatch(/^\//);
      expect(words(s.healthcheck?.test), app).toContain(file!);
    }
    for (const api of ['api', 'cluster-api-1', 'cluster-api-2']) expect(words(services[api]!.healthcheck?.test), api).toContain('/healthz');
  });

  it('does not publish Redis on the host, unless with the override file', () => {
    expect(defaults.services.redis!.ports ?? []).toEqual([]);
    const { services } = resolved(ADMIN, [], ['cluster']);
    for (const node of [...CLUSTER_NODES, 'cluster-init']) expect(services[node]!.ports ?? [], node).toEqual([]);
    const ports = (resolved(ADMIN, ['docker-compose.yml', OVERRIDE]).services.redis!.ports ?? []).map((p) =>
      typeof p === 'string' ? p.replace(/\/tcp$/, '') : `${p.host_ip}:${p.published}:${p.target}`,
    );
    expect(ports).toEqual(['127.0.0.1:6379:6379']);
  });

  it('publishes the API on loopback only, listening on every address inside its container', () => {
    const { services } = resolved(ADMIN, [], ['cluster']);
    const published = { api: '127.0.0.1:3000:3000', 'cluster-api-1': '127.0.0.1:3001:3000', 'cluster-api-2': '127.0.0.1:3002:3000' };
    for (const [name, port] of Object.entries(published)) {
      const api = services[name]!;
      expect(api.environment?.HOST, name).toBe('0.0.0.0');
      const ports = (api.ports ?? []).map((p) =>
        typeof p === 'string' ? p.replace(/\/tcp$/, '') : `${p.host_ip}:${p.published}:${p.target}`,
      );
      expect(ports, name).toEqual([port]);
    }
    // Nothing else is published: the apps and the nodes talk inside Compose's network.
    for (const [name, s] of Object.entries(services)) if (!(name in published)) expect(s.ports ?? [], name).toEqual([]);
  });

  describe('the cluster profile', () => {
    let services: Record<string, Service>;
    let volumes: Record<string, unknown>;
    beforeAll(() => {
      ({ services, volumes = {} } = resolved(ADMIN, [], ['cluster']));
    });

    it('is in the profile, and the default services in none', () => {
      for (const name of ['redis', 'ingest', 'worker', 'api']) expect(services[name]!.profiles ?? [], name).toEqual([]);
      for (const name of [...CLUSTER_NODES, 'cluster-init', ...CLUSTER_APPS]) expect(services[name]!.profiles, name).toEqual(['cluster']);
    });

    it('runs six Redis 7 cluster nodes, each with an append-only file, noeviction and a volume of its own', () => {
      const own = new Set<string>();
      for (const name of CLUSTER_NODES) {
        const node = services[name]!;
        expect(node.image, name).toMatch(/^redis:7/);
        const cmd = words(node.command);
        expect(cmd, name).toMatch(/--cluster-enabled yes\b/);
        expect(cmd, name).toMatch(/--appendonly yes\b/);
        expect(cmd, name).toMatch(/--maxmemory-policy noeviction\b/);
        expect(words(node.healthcheck?.test), name).toMatch(/redis-cli ping/);
        const data = (node.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':')[0]! : v.source!));
        expect(data.length, name).toBe(1);
        expect(Object.keys(volumes), name).toContain(data[0]);
        own.add(data[0]!);
      }
      expect(own.size).toBe(CLUSTER_NODES.length);
    });

    it('makes the cluster once every node is healthy: 3 masters with a replica each, and waits for it to be whole', () => {
      const init = services['cluster-init']!;
      for (const node of CLUSTER_NODES) expect(init.depends_on?.[node]?.condition, node).toBe('service_healthy');
      const script = `${words(init.entrypoint)} ${words(init.command)}`;
      expect(script).toMatch(/redis-cli --cluster create .* --cluster-replicas 1 --cluster-yes/);
      for (const node of CLUSTER_NODES) expect(script, node).toContain(node);
      expect(script).toContain('cluster_state:ok');
      expect(init.restart).not.toBe('unless-stopped'); // a one-shot: done once it exits 0
    });

    it('runs two of each app, built from the Dockerfile, after the cluster is made', () => {
      for (const name of CLUSTER_APPS) {
        const s = services[name]!;
        expect(s.build?.target, name).toBe(/^cluster-(\w+)-\d$/.exec(name)![1]);
        expect(s.depends_on?.['cluster-init']?.condition, name).toBe('service_completed_successfully');
        expect(Object.keys(s.depends_on ?? {}), name).not.toContain('redis');
        expect(s.restart, name).toBe('unless-stopped');
      }
      expect(services['cluster-ingest-1']!.environment?.SOURCE).toBe('poloniex');
    });
  });

  it('takes SOURCE and the admin credentials from the environment', () => {
    const { services } = resolved({ SOURCE: 'simulated', ...ADMIN }, [], ['cluster']);
    for (const ingest of ['ingest', 'cluster-ingest-1', 'cluster-ingest-2']) expect(services[ingest]!.environment?.SOURCE, ingest).toBe('simulated');
    for (const api of ['api', 'cluster-api-1', 'cluster-api-2']) expect(services[api]!.environment, api).toMatchObject(ADMIN);
  });

  // Without them the API in its container (HOST=0.0.0.0) would refuse to
  // start and be restarted forever: Compose refuses at once instead.
  it('refuses to run without ADMIN_USER and ADMIN_PASSWORD, saying to set them in .env', () => {
    for (const env of [{}, { ADMIN_USER: 'ops' }, { ADMIN_PASSWORD: 'secret' }] as Record<string, string>[]) {
      for (const profile of [[], ['--profile', 'cluster']]) {
        const r = run([...profile, 'config', '-q'], env);
        expect(r.status, JSON.stringify(env)).not.toBe(0);
        expect(r.stderr).toMatch(/set ADMIN_USER and ADMIN_PASSWORD in \.env/);
      }
    }
  });
});
