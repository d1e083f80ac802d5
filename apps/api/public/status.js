// @ts-check
/**
 * The one status the page shows (the pill in the header): the live feed
 * (the page's WebSocket) and the source (what GET /pairs says of the
 * ingester) together. "Live" only when both are well; otherwise whichever
 * is down is named. A pure function: no DOM.
 */

/** @typedef {import('./live-feed.js').FeedState} FeedState */
/**
 * @typedef {object} Source what GET /pairs says of the source
 * @property {string} name
 * @property {'live' | 'simulated' | 'replay' | 'unknown'} kind
 * @property {string} label
 * @property {string} state connecting, connected, disconnected, replaying, done or failed
 * @property {string} detail
 * @property {number} heartbeat wall time (ms) of the ingester's last report
 */
/**
 * @typedef {object} Observed what the page knows, as of now
 * @property {FeedState} feed
 * @property {number} [retryInMs] the feed's next try, when reconnecting
 * @property {Source | null | undefined} source undefined until /pairs answered once; null: no ingester ever reported
 * @property {string} [pairsError] why the last GET /pairs failed, if it did
 * @property {number} serverNow the server's clock (ms) when /pairs answered
 */
/**
 * @typedef {'connecting' | 'live' | 'simulated' | 'replaying' | 'replay-done' | 'reconnecting' | 'failed' | 'silent' | 'no-source'} PillState
 */
/**
 * @typedef {object} Pill
 * @property {PillState} state
 * @property {'' | 'feed' | 'source'} down which side is not well ('' when none is)
 * @property {string} text what the pill says
 * @property {string} detail why, shown beside the pill when something is down
 */

/** As /readyz: an ingester that has not reported for this long is taken as stopped. */
export const HEARTBEAT_MAX_AGE_MS = 15_000;

/** "Poloniex", or the source's name as it is. @param {Source} s */
const nameOf = (s) => (s.name === 'poloniex' ? 'Poloniex' : s.name === 'simulated' ? 'the simulated market' : s.name === 'replay' ? 'the replay' : s.name);

/** @param {Observed} o @returns {Pill} */
export function pillFor(o) {
  if (o.feed !== 'live') {
    const lost = o.feed === 'reconnecting';
    return {
      state: lost ? 'reconnecting' : 'connecting',
      down: 'feed',
      text: lost ? 'Reconnecting to the server…' : 'Connecting…',
      detail: lost ? `The live feed is down${o.retryInMs === undefined ? '' : `; next try in ${Math.ceil(o.retryInMs / 1000)} s`}` : '',
    };
  }
  if (o.pairsError !== undefined) {
    return { state: 'reconnecting', down: 'feed', text: 'Reconnecting to the server…', detail: `GET /pairs failed: ${o.pairsError}` };
  }
  const s = o.source;
  if (s === undefined) return { state: 'connecting', down: '', text: 'Connecting…', detail: '' };
  if (s === null) return { state: 'no-source', down: 'source', text: 'No source', detail: 'No ingester has reported yet: is it running?' };
  const why = s.detail;
  switch (s.state) {
    case 'done':
      // The ingester may well have exited after its replay: no heartbeat expected.
      return { state: 'replay-done', down: '', text: 'Replay finished', detail: '' };
    case 'failed':
      return { state: 'failed', down: 'source', text: `${capital(nameOf(s))} failed`, detail: why };
    case 'connecting':
      return { state: 'connecting', down: 'source', text: `Connecting to ${nameOf(s)}…`, detail: why };
    case 'disconnected':
      return { state: 'reconnecting', down: 'source', text: `Reconnecting to ${nameOf(s)}…`, detail: why };
    default:
      break;
  }
  const age = o.serverNow - s.heartbeat;
  if (age > HEARTBEAT_MAX_AGE_MS) {
    return { state: 'silent', down: 'source', text: 'Ingester silent', detail: `The ingester last reported ${Math.round(age / 1000)} s ago: is it running?` };
  }
  if (s.state === 'replaying') return { state: 'replaying', down: '', text: 'Replaying', detail: '' };
  if (s.kind === 'simulated') return { state: 'simulated', down: '', text: 'Simulated', detail: '' };
  if (s.kind === 'live') return { state: 'live', down: '', text: 'Live', detail: '' };
  // A source this page does not know, connected: not called live.
  return { state: 'live', down: '', text: `Connected to ${s.name}`, detail: '' };
}

/** @param {string} s */
const capital = (s) => s.charAt(0).toUpperCase() + s.slice(1);
