/**
 * The two ways the feed shows what it knows: a table redrawn in place on a
 * terminal, or one plain line per candle update when stdout is a pipe or a
 * file (connection news then goes to stderr, so stdout stays parseable).
 */
import type { Candle } from '@candlestack/shared';
import type { SourceInfo } from './messages.js';
import { plainLine, renderScreen, sourceText, statusText } from './render.js';
import type { ConnectionStatus, FeedState } from './state.js';
import type { Screen } from './terminal.js';

export interface FeedView {
  /** Candles that changed what is known. */
  candles(pair: string, changed: readonly Candle[]): void;
  status(status: ConnectionStatus): void;
  /** Where the trades come from, at start and whenever it changes. */
  source(source: SourceInfo | null): void;
  problem(message: string): void;
  /** The terminal back as it was; idempotent and synchronous. */
  end(): void;
}

export interface ViewOptions {
  readonly period: string;
  readonly count: number;
  readonly url: string;
}

/** At most this many frames a second, however fast the candles change. */
const FPS = 10;

export class TableView implements FeedView {
  private timer: NodeJS.Timeout | undefined;
  private ticker: NodeJS.Timeout | undefined;
  private lastDraw = 0;
  private readonly onResize = () => {
    this.screen.invalidate();
    this.draw();
  };

  constructor(
    private readonly state: FeedState,
    private readonly screen: Screen,
    private readonly opts: ViewOptions & { readonly color: boolean; readonly stdout: NodeJS.WriteStream },
  ) {}

  /** Takes over the terminal; `onQuit` runs on q or Ctrl-C (raw mode turns Ctrl-C into a key). */
  begin(onQuit: () => void): void {
    this.screen.enter((key) => {
      if (key.includes('\x03') || key === 'q' || key === 'Q') onQuit();
    });
    this.opts.stdout.on('resize', this.onResize);
    // The clock and the reconnect countdown move even when the market is quiet.
    this.ticker = setInterval(() => this.schedule(), 1_000);
    this.draw();
  }

  candles(): void {
    this.schedule();
  }

  status(): void {
    this.schedule();
  }

  source(): void {
    this.schedule();
  }

  problem(): void {
    this.schedule();
  }

  end(): void {
    clearTimeout(this.timer);
    clearInterval(this.ticker);
    this.opts.stdout.off('resize', this.onResize);
    this.screen.restore();
  }

  /** Draws now, or at the next frame slot if one was drawn less than 1/FPS s ago. */
  private schedule(): void {
    if (this.timer) return;
    const wait = this.lastDraw + 1_000 / FPS - Date.now();
    if (wait <= 0) return this.draw();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, wait);
  }

  private draw(): void {
    this.lastDraw = Date.now();
    const { state, screen, opts } = this;
    const lines = renderScreen(
      {
        period: opts.period,
        count: opts.count,
        url: opts.url,
        status: state.status,
        source: state.source,
        problem: state.problem,
        pairs: state.view(),
      },
      { width: screen.columns, height: screen.rows, color: opts.color, now: this.lastDraw },
    );
    // Screen.draw writes nothing when the frame is the one already shown.
    screen.draw(lines);
  }
}

export class LineView implements FeedView {
  constructor(
    private readonly opts: ViewOptions & { readonly out: (line: string) => void; readonly err: (line: string) => void },
  ) {}

  candles(pair: string, changed: readonly Candle[]): void {
    for (const c of changed) this.opts.out(plainLine(pair, this.opts.period, c));
  }

  status(status: ConnectionStatus): void {
    this.opts.err(`feed: ${statusText(status, this.opts.url, Date.now())}`);
  }

  source(source: SourceInfo | null): void {
    this.opts.err(`feed: ${sourceText(source)}`);
  }

  problem(message: string): void {
    this.opts.err(`feed: server: ${message}`);
  }

  end(): void {}
}
