/**
 * One terminal for several processes: each line of a child's output is
 * pretty-printed by pino-pretty (lines that are not JSON pass through) and
 * prefixed with the child's name in its own colour: `api    │ ...`.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { prettyFactory } from 'pino-pretty';

const tty = Boolean(process.stdout.isTTY);
const WIDTH = 6; // the longest name: ingest, worker
const COLORS: Record<string, number> = { ingest: 36, worker: 35, api: 32, redis: 34, dev: 33 };

const paint = (code: number, text: string) => (tty ? `\x1b[${code}m${text}\x1b[0m` : text);

/** An entry's error, in a few words: the message says the rest. */
function errorText(err: unknown): string | undefined {
  if (err === undefined || err === null) return undefined;
  const text = typeof err === 'string' ? err : typeof err === 'object' && 'message' in err ? String(err.message) : JSON.stringify(err);
  return text.length > 160 ? `${text.slice(0, 159)}…` : text;
}

const pretty = prettyFactory({
  colorize: tty,
  translateTime: 'SYS:HH:MM:ss.l',
  // The prefix names the app already.
  ignore: 'pid,hostname,name',
  // The message alone, one line per entry: three apps interleave, and the
  // fields (a JSON tail of up to hundreds of characters) drown the messages.
  // The fields stay in the apps' JSON output (pnpm --filter ./apps/<app> dev).
  // An error's text is kept: "retrying" says little without it.
  hideObject: true,
  singleLine: true,
  messageFormat: (entry, messageKey) => {
    const msg = String(entry[messageKey] ?? '');
    const err = errorText(entry.err);
    return err && !msg.includes(err) ? `${msg} (${err})` : msg;
  },
});

function prefix(name: string): string {
  return paint(COLORS[name] ?? 37, `${name.padEnd(WIDTH)} │`) + ' ';
}

/** Writes `text` (one line or several) to `out`, each line prefixed by `name`. */
export function print(name: string, text: string, out: NodeJS.WritableStream = process.stdout): void {
  const p = prefix(name);
  out.write(text.replace(/\n$/, '').split('\n').map((line) => p + line + '\n').join(''));
}

/** A line of our own, from `pnpm dev` itself. */
export function say(text: string, out: NodeJS.WritableStream = process.stdout): void {
  print('dev', text, out);
}

/** Pipes every line of `streams` to stdout, pretty-printed and prefixed. */
export function pipeLines(name: string, ...streams: Readable[]): void {
  for (const input of streams) {
    createInterface({ input, crlfDelay: Infinity }).on('line', (line) => {
      print(name, line.startsWith('{') ? pretty(line) : line);
    });
  }
}

/** A box around `lines`, for the URLs once the API is up. */
export function box(lines: readonly string[]): string {
  const width = Math.max(...lines.map((l) => l.length));
  const rule = '─'.repeat(width + 2);
  return [`╭${rule}╮`, ...lines.map((l) => `│ ${l.padEnd(width)} │`), `╰${rule}╯`].map((l) => paint(1, l)).join('\n');
}
