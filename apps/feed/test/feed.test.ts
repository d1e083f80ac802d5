/**
 * The feed as users run it, against the real pipeline: the simulated market
 * through the ingester and worker into Redis, the real API and its /ws. On
 * a pseudo-terminal (util-linux `script`) it draws the table and gives the
 * terminal back on Ctrl-C; through a pipe it prints plain lines, and rides
 * out an API restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESC, RESTORE } from '../src/terminal.js';
import { FEED_COMMAND, PAIRS, run, startStack, type Run, type Stack } from './stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

async function until(check: () => boolean, what: string, r?: Run, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${r ? `\nstdout: ${JSON.stringify(r.stdout().slice(-2000))}\nstderr: ${r.stderr()}` : ''}`);
    }
    await new Promise((res) => setTimeout(res, 50));
  }
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const ESCAPES = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** The text of the last frame drawn, one string per screen line. */
function lastFrame(output: string): string[] {
  const frames = output.split(ESC.home);
  return (frames.at(-1) ?? '').split(/\r+\n/).map((l) => l.replace(ESCAPES, ''));
}

const ROW = /^[▲▼=][ *] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}/;
const PLAIN = /^(BTC_USDT|ETH_USDT) 1s \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ o=[\d.]+ h=[\d.]+ l=[\d.]+ c=[\d.]+ v=[\d.]+ n=\d+ (closed|forming)$/;

describe('on a terminal', () => {
  it('draws a table per pair in place, and leaves the terminal as it found it on Ctrl-C', async () => {
    // `script` gives the feed a pseudo-terminal of a known size; its output is the raw byte stream.
    const inner = `stty cols 120 rows 40; exec ${FEED_COMMAND.map(quote).join(' ')} 1s 3`;
    const feed = run(['script', '-qfec', inner, '/dev/null'], { API_URL: stack.url, NO_COLOR: undefined, TERM: 'xterm-256color' });
    await until(() => {
      const screen = lastFrame(feed.stdout());
      return PAIRS.every((p) => screen.includes(p)) && screen.filter((l) => ROW.test(l)).length >= 2 * 3;
    }, 'both tables, full', feed);

    const screen = lastFrame(feed.stdout());
    expect(screen[0]).toMatch(/^Candlestack feed · 1s candles, last 3 per pair · \d\d:\d\d:\d\d UTC$/);
    expect(screen[1]).toBe('source: Simulated market: random prices, not real trades');
    expect(screen[2]).toBe(`● live · ${stack.url.replace('http', 'ws')}/ws`);
    const btc = screen.indexOf('BTC_USDT');
    expect(screen[btc + 1]).toMatch(/^ {3}time \(UTC\) +open +high +low +close +volume +trades$/);
    const rows = screen.slice(btc + 2, btc + 5);
    for (const row of rows) expect(row).toMatch(ROW);
    // The newest candle is the forming one, and says so.
    expect(rows.at(-1)).toMatch(/^[▲▼=]\* .* forming$/);

    const out = feed.stdout();
    expect(out.startsWith(`${ESC.altScreenOn}${ESC.hideCursor}`)).toBe(true);
    // Up and down in colour; the whole screen is never wiped after the first frame (no flicker).
    expect(out).toMatch(/\x1b\[3[12]m[▲▼]/);
    expect(out.split(ESC.clearScreen)).toHaveLength(2);

    feed.child.stdin!.write('\x03');
    expect(await feed.exited).toBe(0);
    expect(feed.stdout().endsWith(RESTORE)).toBe(true);
    expect(RESTORE).toContain(ESC.altScreenOff);
    expect(RESTORE).toContain(ESC.showCursor);
  });
});

describe('through a pipe', () => {
  it('prints one plain line per update, and carries on after an API restart', async () => {
    const feed = run([...FEED_COMMAND, '1s', '2'], { API_URL: stack.url });
    const lines = () => feed.stdout().split('\n').filter(Boolean);
    await until(() => PAIRS.every((p) => lines().filter((l) => l.startsWith(p) && l.endsWith('closed')).length >= 2), 'closed candles of both pairs', feed);
    expect(feed.stdout()).not.toContain('\x1b');
    for (const line of lines()) expect(line).toMatch(PLAIN);
    // Connection news goes to stderr, so stdout stays one candle a line.
    expect(feed.stderr()).toContain('feed: source: Simulated market: random prices, not real trades');
    expect(feed.stderr()).toContain(`feed: ● live · ${stack.url.replace('http', 'ws')}/ws`);

    await stack.stopApi();
    await until(() => feed.stderr().includes('feed: ○ reconnecting…'), 'the reconnecting notice', feed);
    const stoppedAt = Date.now();
    await stack.startApi();
    await until(() => feed.stderr().split('feed: ● live').length === 3, 'the second connection', feed);
    // Candles newer than the outage arrive again.
    const after = (l: string) => Date.parse(l.split(' ')[2]!) > stoppedAt;
    await until(() => PAIRS.every((p) => lines().some((l) => l.startsWith(p) && after(l))), 'candles after the restart', feed);
    for (const line of lines()) expect(line).toMatch(PLAIN);

    feed.child.kill('SIGINT');
    expect(await feed.exited).toBe(0);
  });

  it('refuses a period the API does not build, naming those it does', async () => {
    const feed = run([...FEED_COMMAND, '1m'], { API_URL: stack.url });
    expect(await feed.exited).toBe(2);
    expect(feed.stderr()).toBe(
      `feed: the API at ${stack.url} does not serve 1m; it serves: 1s, 5s\n` +
        'usage: pnpm feed <period> [count]   (period e.g. 1m, 5m, 1h; count of candles per pair: 1 to 10, default 3)\n',
    );
  });
});
