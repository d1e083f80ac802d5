/**
 * The terminal while the feed runs: the alternate screen (so the user's
 * scrollback is untouched), the cursor hidden, keys read raw (so typing
 * does not scribble over the table, and q quits). `restore()` puts all of it
 * back; it is idempotent and synchronous, so it can run from a signal, an
 * uncaught exception or process.on('exit') alike.
 */
export const ESC = {
  altScreenOn: '\x1b[?1049h',
  altScreenOff: '\x1b[?1049l',
  hideCursor: '\x1b[?25l',
  showCursor: '\x1b[?25h',
  home: '\x1b[H',
  clearScreen: '\x1b[2J',
  clearToEol: '\x1b[K',
  clearBelow: '\x1b[J',
  resetStyle: '\x1b[0m',
  // Synchronized output (DEC mode 2026): the terminal shows the frame only
  // once it is complete; terminals without it ignore the two codes.
  syncStart: '\x1b[?2026h',
  syncEnd: '\x1b[?2026l',
} as const;

/** What the feed writes on the way out: plain style, cursor shown, back to the user's screen. */
export const RESTORE = `${ESC.resetStyle}${ESC.showCursor}${ESC.altScreenOff}`;

/** Strips SGR (colour) codes, to measure a painted line. */
const visible = (s: string) => [...s.replace(/\x1b\[[0-9;]*m/g, '')].length;

/**
 * One redraw, as one string: from the home position, each line overwrites
 * the previous frame's and clears what is left of it, then everything below
 * the last line is cleared. Nothing is erased first, so nothing flickers.
 */
export function frame(lines: readonly string[], columns: number): string {
  const body = lines
    // A line as wide as the terminal leaves the cursor in the last column,
    // where clear-to-end-of-line would erase the line's own last character.
    .map((line) => (visible(line) < columns ? line + ESC.clearToEol : line))
    .join('\r\n');
  return `${ESC.syncStart}${ESC.home}${body}${ESC.resetStyle}${ESC.clearBelow}${ESC.syncEnd}`;
}

export interface ScreenIo {
  readonly stdout: NodeJS.WriteStream;
  readonly stdin: NodeJS.ReadStream;
}

export class Screen {
  private active = false;
  private last = '';
  private rawMode = false;

  constructor(private readonly io: ScreenIo = { stdout: process.stdout, stdin: process.stdin }) {}

  get columns(): number {
    return this.io.stdout.columns || 80;
  }

  get rows(): number {
    return this.io.stdout.rows || 24;
  }

  /** Takes over the terminal; `onKey` gets every key pressed (raw bytes as text). */
  enter(onKey: (key: string) => void): void {
    if (this.active) return;
    this.active = true;
    this.write(`${ESC.altScreenOn}${ESC.hideCursor}${ESC.clearScreen}`);
    const { stdin } = this.io;
    if (stdin.isTTY) {
      stdin.setRawMode(true);
      this.rawMode = true;
      stdin.setEncoding('utf8');
      stdin.on('data', (key: string) => onKey(key));
      stdin.resume();
    }
  }

  /** Draws `lines` unless they are what is already on screen. */
  draw(lines: readonly string[]): void {
    if (!this.active) return;
    const text = frame(lines, this.columns);
    if (text === this.last) return;
    this.last = text;
    this.write(text);
  }

  /** After a resize the old frame may have been rewrapped: clear once, draw afresh. */
  invalidate(): void {
    if (!this.active) return;
    this.last = '';
    this.write(ESC.clearScreen);
  }

  restore(): void {
    if (!this.active) return;
    this.active = false;
    if (this.rawMode) {
      this.rawMode = false;
      try {
        this.io.stdin.setRawMode(false);
      } catch {
        // The terminal is gone (hang-up): nothing left to restore.
      }
      this.io.stdin.pause();
    }
    this.write(RESTORE);
  }

  private write(text: string): void {
    // Writes to a terminal are synchronous in Node on Linux and macOS, so the
    // restore codes are out before process.exit(). A terminal that went away
    // (EIO) is reported on the stream's 'error', which main() listens to.
    this.io.stdout.write(text);
  }
}
