/**
 * The source as users see it on /pairs (and later the dashboard): a
 * simulated market must never pass for a real one, so every answer says
 * which kind of data it is, in words.
 */
import type { SourceState, SourceStatus } from '@candlestack/shared';

export type SourceKind = 'live' | 'simulated' | 'replay' | 'unknown';

export interface SourceInfo {
  /** The SOURCE the ingester runs: poloniex, simulated, replay. */
  readonly name: string;
  /** live: a real exchange; simulated: made-up prices; replay: recorded trades. */
  readonly kind: SourceKind;
  /** One line for people, e.g. "Simulated market: random prices, not real trades". */
  readonly label: string;
  readonly state: SourceState;
  readonly detail: string;
  /** Wall time (ms) of the ingester's last report. */
  readonly heartbeat: number;
  /** Trades known missed. */
  readonly gaps: number;
}

const KINDS: Record<string, { kind: SourceKind; label: string }> = {
  poloniex: { kind: 'live', label: 'Poloniex: live trades from the exchange' },
  simulated: { kind: 'simulated', label: 'Simulated market: random prices, not real trades' },
  replay: { kind: 'replay', label: 'Replay of recorded trades' },
};

/** null when no ingester has ever reported. */
export function sourceInfo(status: SourceStatus | undefined): SourceInfo | null {
  if (!status) return null;
  const { kind, label } = KINDS[status.source] ?? { kind: 'unknown', label: `Unknown source "${status.source}"` };
  return {
    name: status.source,
    kind,
    label,
    state: status.state,
    detail: status.detail,
    heartbeat: status.heartbeat,
    gaps: status.gaps,
  };
}
