/**
 * A value as an error message shows it: JSON (so control characters,
 * quotes and odd Unicode are visible and cannot break a log line), cut to
 * `max` characters, since a hostile input may be megabytes.
 */
export function shown(v: unknown, max = 64): string {
  let json: string;
  try {
    // Cut a long string before encoding it: JSON.stringify of a megabyte would be a waste.
    json = JSON.stringify(typeof v === 'string' ? v.slice(0, max) : v) ?? String(v);
  } catch {
    // A BigInt, a cycle, a toJSON that throws: say what it is, not what it holds.
    return `(${typeof v}, not shown)`;
  }
  // Never end on half of a surrogate pair.
  return json.length <= max ? json : json.slice(0, max).replace(/[\ud800-\udbff]$/, '');
}
