/**
 * An offline market: seeded, so the same SIM_SEED gives the same prices and
 * sizes, running on the wall clock. Prices follow a random walk whose
 * volatility and activity switch between quiet spells and bursts; each taker
 * order sweeps one to several price levels, so trades come in clusters of
 * fills at the same millisecond, as on a real exchange. Prices and sizes have
 * the tick and lot sizes real markets have.
 */
import { decimal, type RawTrade } from '@candlestack/shared';
import type { Source, SourceSink } from '../source.js';

export interface SimulatedOptions {
  readonly pairs: readonly string[];
  readonly seed: number;
  /** Average trades per second per pair. */
  readonly rate: number;
  /** How often trades are emitted (ms). */
  readonly stepMs?: number;
}

/** mulberry32: small, fast, good enough for a simulation, and seedable. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Market {
  readonly pair: string;
  /** Price in ticks (integer), so the walk never accumulates float noise. */
  ticks: number;
  readonly tickDecimals: number;
  readonly lotDecimals: number;
  /** Typical order size in base units. */
  readonly size: number;
  /** 0 quiet, 1 normal, 2 burst. */
  regime: number;
  nextId: bigint;
}

/** Known pairs get realistic prices; others a price from the seed. */
const PROFILES: Record<string, { price: number; tickDecimals: number; lotDecimals: number; size: number }> = {
  BTC_USDT: { price: 37_000, tickDecimals: 2, lotDecimals: 6, size: 0.05 },
  ETH_USDT: { price: 2_000, tickDecimals: 2, lotDecimals: 4, size: 0.8 },
  SOL_USDT: { price: 60, tickDecimals: 3, lotDecimals: 2, size: 15 },
  XRP_USDT: { price: 0.6, tickDecimals: 5, lotDecimals: 0, size: 900 },
  ETH_BTC: { price: 0.054, tickDecimals: 6, lotDecimals: 4, size: 1.2 },
};

const REGIME_ACTIVITY = [0.15, 1, 4];
const REGIME_VOL = [0.3, 1, 3];

function toDecimal(units: number, decimals: number): string {
  const s = String(Math.round(units)).padStart(decimals + 1, '0');
  return decimals === 0 ? s : decimal.canonical(`${s.slice(0, -decimals)}.${s.slice(-decimals)}`);
}

export class SimulatedSource implements Source {
  readonly kind = 'simulated' as const;
  private timer: NodeJS.Timeout | undefined;
  private readonly random: () => number;
  private readonly markets: Market[];
  private readonly stepMs: number;

  constructor(private readonly opts: SimulatedOptions) {
    this.random = prng(opts.seed);
    this.stepMs = opts.stepMs ?? 50;
    // Ids continue across restarts (and never collide with a previous run's):
    // they start at the wall clock in µs, then count up by one per trade.
    const idBase = BigInt(Date.now()) * 1000n;
    this.markets = opts.pairs.map((pair, i) => {
      const p = PROFILES[pair] ?? {
        price: 1 + this.random() * 100,
        tickDecimals: 4,
        lotDecimals: 2,
        size: 10,
      };
      return {
        pair,
        ticks: Math.round(p.price * 10 ** p.tickDecimals),
        tickDecimals: p.tickDecimals,
        lotDecimals: p.lotDecimals,
        size: p.size,
        regime: 1,
        nextId: idBase + BigInt(i) * 1_000_000_000n,
      };
    });
  }

  async start(sink: SourceSink): Promise<string[]> {
    sink.status('connected', `simulated market (seed ${this.opts.seed}, ${this.opts.rate} trades/s per pair)`);
    this.timer = setInterval(() => void sink.trades(this.step(Date.now())), this.stepMs);
    return this.markets.map((m) => m.pair);
  }

  /** The trades of one step ending at `now`. Public for tests of the simulation itself. */
  step(now: number): RawTrade[] {
    const out: RawTrade[] = [];
    for (const m of this.markets) {
      // Regimes switch now and then: quiet spells and bursts.
      if (this.random() < 0.004 * (this.stepMs / 50)) m.regime = Math.floor(this.random() * 3);
      const fillsPerOrder = 2.2;
      const expectedOrders = ((this.opts.rate * this.stepMs) / 1000 / fillsPerOrder) * REGIME_ACTIVITY[m.regime]!;
      const orders = this.poisson(expectedOrders);
      // Order times within the step, ascending, so ids rise with time as on an exchange.
      const times = Array.from({ length: orders }, () => now - Math.floor(this.random() * this.stepMs)).sort((a, b) => a - b);
      for (const time of times) {
        const side = this.random() < 0.5 ? 'buy' : 'sell';
        // Drift of the mid price: a random walk in ticks, scaled by the regime.
        const vol = Math.max(1, Math.round(m.ticks * 0.00005 * REGIME_VOL[m.regime]!));
        m.ticks = Math.max(1, m.ticks + Math.round(this.gauss() * vol));
        const fills = 1 + this.poisson(fillsPerOrder - 1);
        let level = m.ticks;
        for (let f = 0; f < fills; f++) {
          const qty = Math.max(1, Math.round(this.exponential() * m.size * 10 ** m.lotDecimals));
          out.push({
            pair: m.pair,
            time,
            price: toDecimal(level, m.tickDecimals),
            quantity: toDecimal(qty, m.lotDecimals),
            side,
            id: String(m.nextId++),
          });
          // A taker sweeps the book away from the mid.
          level = Math.max(1, level + (side === 'buy' ? 1 : -1) * (1 + Math.floor(this.random() * 2)));
        }
      }
    }
    return out.sort((a, b) => (a.time as number) - (b.time as number));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private poisson(lambda: number): number {
    if (lambda <= 0) return 0;
    if (lambda > 30) return Math.max(0, Math.round(lambda + Math.sqrt(lambda) * this.gauss()));
    const l = Math.exp(-lambda);
    let k = 0;
    let p = 1;
    do {
      k++;
      p *= this.random();
    } while (p > l);
    return k - 1;
  }

  private gauss(): number {
    const u = 1 - this.random();
    const v = this.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  private exponential(): number {
    return -Math.log(1 - this.random());
  }
}
