/**
 * `pnpm bench`: every performance figure of Candlestack beside a ceiling
 * measured in the same run (absolute figures drift from machine to machine,
 * ratios do not). Prints a table, or JSON with --json; --quick runs in under
 * a minute with smaller loads. Never fails on a figure.
 *
 * It measures the production build (`pnpm build` is run first when the
 * build is missing or older than the sources), each app as its own process,
 * on a redis-server of its own (AOF everysec); redis-benchmark gives the
 * Redis ceiling when it is on the PATH. See BENCHMARKS.md for the method and
 * the figures over time.
 *
 * The `cluster` section (a Redis Cluster of six redis-server processes) runs
 * only when asked for: `--cluster` (with the others) or `--only=cluster`.
 */
import { closeLag } from './bench/closelag.js';
import { closeWorkers } from './bench/close-workers.js';
import { clusterSpread } from './bench/cluster.js';
import { compression } from './bench/compression.js';
import { e2e } from './bench/e2e.js';
import { fanout } from './bench/fanout.js';
import { fold } from './bench/fold.js';
import { http } from './bench/http.js';
import { memory } from './bench/memory.js';
import { ensureBuilt, table, type BenchContext, type Figure, type Section } from './bench/lib.js';

const args = new Set(process.argv.slice(2));
const known = new Set(['--quick', '--json', '--cluster']);
for (const a of args) {
  if (!known.has(a) && !a.startsWith('--only=')) {
    process.stderr.write(`usage: pnpm bench [--quick] [--json] [--cluster] [--only=<section>[,<section>...]]\n`);
    process.exit(2);
  }
}
const quick = args.has('--quick');
const json = args.has('--json');
const only = [...args].find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const withCluster = args.has('--cluster');

const SECTIONS: Record<string, Section> = {
  e2e,
  'close-lag': closeLag,
  'close-workers': closeWorkers,
  fold,
  memory,
  http,
  fanout,
  compression,
  cluster: clusterSpread,
};
/** Sections run only when named, or with --cluster. */
const ON_REQUEST = new Set(['cluster']);
const unknown = only?.filter((name) => !(name in SECTIONS));
if (unknown?.length) {
  process.stderr.write(`pnpm bench: no section ${unknown.join(', ')}; the sections: ${Object.keys(SECTIONS).join(', ')}\n`);
  process.exit(2);
}
const wanted = (name: string) => (only ? only.includes(name) : !ON_REQUEST.has(name) || withCluster);

const ctx: BenchContext = {
  quick,
  progress: (text) => process.stderr.write(`bench: ${text}\n`),
};

ensureBuilt(ctx.progress);
const started = performance.now();
const figures: Figure[] = [];
for (const [name, section] of Object.entries(SECTIONS)) {
  if (!wanted(name)) continue;
  const sectionStarted = performance.now();
  figures.push(...(await section(ctx)));
  ctx.progress(`${name}: done in ${((performance.now() - sectionStarted) / 1000).toFixed(1)} s`);
}
const seconds = (performance.now() - started) / 1000;
if (json) {
  process.stdout.write(`${JSON.stringify({ quick, seconds, figures }, null, 2)}\n`);
} else {
  process.stdout.write(`${table(figures)}\n\n${quick ? 'quick run' : 'full run'} in ${seconds.toFixed(0)} s\n`);
}
process.exit(0);
