// @ts-check
/**
 * The view the page's address asks for (?pair=ETH_USDT&period=5m), and what
 * is shown when the server serves no such thing. No DOM: the address is
 * read from `window.location` only as a default.
 */

/** The pair and period in the address (?pair=ETH_USDT&period=5m), so a view can be bookmarked or shared. */
export function wanted(search = window.location.search) {
  const q = new URLSearchParams(search);
  return { pair: q.get('pair') ?? '', period: q.get('period') ?? '' };
}

/** "btc-usdt", "BTC/USDT" and "btc_usdt" as the API spells pairs: "BTC_USDT" (else as it is). @param {string} text */
export function pairSpelling(text) {
  const m = /^([A-Za-z0-9]{1,20})[_\-/]([A-Za-z0-9]{1,20})$/.exec(text.trim());
  return m ? `${m[1]}_${m[2]}`.toUpperCase() : text;
}

/**
 * What to show first: the address's pair and period when the server has
 * them, else the first of each, saying so (a mistyped link must not pass
 * for the view it asked for).
 * @param {readonly string[]} pairs @param {readonly string[]} periods @param {{ pair: string, period: string }} [want]
 */
export function firstView(pairs, periods, want = wanted()) {
  const p = pairSpelling(want.pair);
  const pairOk = pairs.includes(p);
  const periodOk = periods.includes(want.period);
  const view = { pair: pairOk ? p : /** @type {string} */ (pairs[0]), period: periodOk ? want.period : /** @type {string} */ (periods[0]) };
  const notes = [];
  // Said back as text (textContent), but a pasted address can be long.
  const said = (/** @type {string} */ s) => (s.length > 40 ? `${s.slice(0, 40)}…` : s);
  if (want.pair !== '' && !pairOk) notes.push(`Unknown pair ${said(want.pair)}; showing ${view.pair}.`);
  if (want.period !== '' && !periodOk) notes.push(`Unknown period ${said(want.period)}; showing ${view.period} (periods: ${periods.join(', ')}).`);
  return { ...view, notice: notes.join(' ') };
}
