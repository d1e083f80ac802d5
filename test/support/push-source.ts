/** A source a test drives by hand: whatever it pushes goes through the real ingester. */
import type { RawTrade } from '@candlestack/shared';
import type { Source, SourceSink } from '../../apps/ingest/src/source.js';

export class PushSource implements Source {
  readonly kind = 'simulated' as const;
  private sink: SourceSink | undefined;

  constructor(private readonly pairs: string[]) {}

  async start(sink: SourceSink): Promise<string[]> {
    this.sink = sink;
    sink.status('connected', 'test source');
    return this.pairs;
  }

  async push(trades: RawTrade[]): Promise<void> {
    if (!this.sink) throw new Error('not started');
    await this.sink.trades(trades);
  }

  async close(): Promise<void> {
    this.sink = undefined;
  }
}
