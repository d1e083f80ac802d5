/** The source named by SOURCE. */
import type { IngestConfig } from '../env.js';
import type { Source } from '../source.js';
import { SimulatedSource } from './simulated.js';

export class SourceConfigError extends Error {}

export async function createSource(config: IngestConfig): Promise<Source> {
  switch (config.SOURCE) {
    case 'simulated': {
      const pairs = config.PAIRS === 'all' ? ['BTC_USDT', 'ETH_USDT', 'SOL_USDT', 'XRP_USDT', 'ETH_BTC'] : config.PAIRS;
      return new SimulatedSource({ pairs, seed: config.SIM_SEED, rate: config.SIM_RATE });
    }
    case 'replay': {
      const { ReplaySource } = await import('./replay.js');
      if (!config.REPLAY_FILE) throw new SourceConfigError('invalid configuration: REPLAY_FILE=(unset): SOURCE=replay needs a file to replay');
      return new ReplaySource({
        file: config.REPLAY_FILE,
        speed: config.REPLAY_SPEED,
        // PAIRS unset (or empty, which the config reads as unset): every pair in the file.
        pairs: config.PAIRS === 'all' || !process.env.PAIRS?.trim() ? undefined : config.PAIRS,
      });
    }
    case 'poloniex': {
      const { PoloniexSource } = await import('./poloniex.js');
      return new PoloniexSource({ wsUrl: config.POLONIEX_WS_URL, restUrl: config.POLONIEX_REST_URL, pairs: config.PAIRS, historyMs: config.HISTORY });
    }
  }
}
