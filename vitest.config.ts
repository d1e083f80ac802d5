import { defineConfig } from 'vitest/config';

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
