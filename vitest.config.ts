import { defineConfig } from 'vitest/config';

// Every test runs in a zone away from UTC, so that code which reads or prints
// times in the host's zone (Date.parse of "2024-01-01T00:00:00", getHours)
// fails here instead of on the first server that is not on UTC. New York
// also has daylight saving time. Node applies a TZ set at run time, and the
// test workers and the processes tests start inherit it.
process.env.TZ = 'America/New_York';

// One config for the whole workspace: each package is a vitest project, so
// `pnpm test` at the root runs everything and `--project api` narrows it.
// The `development` condition makes @candlestack/shared resolve to its
// TypeScript sources, so tests never need a build first.
const project = (name: string, root: string, include = ['src/**/*.test.ts', 'test/**/*.test.ts']) => ({
  resolve: { conditions: ['development'] },
  ssr: { resolve: { conditions: ['development'] } },
  test: {
    name,
    root,
    include,
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});

export default defineConfig({
  test: {
    // Two files at a time even on two cores: most of the suite waits (on
    // Redis, on processes it started, on a stand-in's clock), so the second
    // worker nearly halves the run (541 s -> 302 s on the 2-core machine).
    maxWorkers: 2,
    projects: [
      project('shared', 'packages/shared'),
      project('ingest', 'apps/ingest'),
      project('worker', 'apps/worker'),
      project('api', 'apps/api'),
      project('feed', 'apps/feed'),
      project('e2e', 'test', ['**/*.test.ts']),
    ],
  },
});
