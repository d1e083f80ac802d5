/**
 * Secrets out of text that is logged or shown: Redis URLs (REDIS_URL, a
 * list of them, REDIS_CLUSTER_NODES) and the messages of library errors.
 *
 * This works on the text, never on a parsed URL, because it must also hide
 * the password of a value that is not a valid URL: a config error shows the
 * value, and a password with an unescaped `/`, `@` or `?` is exactly what
 * makes a URL invalid. When in doubt it hides too much (a host, a
 * parameter) rather than a character too little.
 */

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/**
 * A query parameter whose name says it is secret, and its value up to the
 * end: ioredis reads every query parameter as an option (`?password=`,
 * `?sentinelPassword=`), and a value with an unescaped `&` or `#` must not
 * show in part. Other parameters after it are lost; they hold no secret.
 */
const SECRET_PARAM = /([?&;][^=&?#;]*(?:pass|pwd|secret|token)[^=&?#;]*=).*$/is;

/**
 * After the scheme, `host:x` where x is not a port: a URL whose host was
 * forgotten (`redis://:pw`, `redis://user:pw`) holds its password there;
 * all of the rest is hidden, since that password may hold `/` or `?`.
 */
const NOT_A_PORT = /^(\[[^\]]*\]|[^:/?#,@[\]]*):(?!\d*(?:[/?#,]|$)).*$/s;

/** A Redis URL (or a comma-separated list of them) with every password replaced by `***`. */
export function redactUrl(value: string): string {
  const scheme = SCHEME.exec(value)?.[0] ?? '';
  const param = SECRET_PARAM.exec(value);
  // The user:password ends at the last `@`, as in a WHATWG URL parser: the
  // password may hold `@`, `:` or `/` (unescaped, the URL is then invalid,
  // and shown in a config error).
  const at = value.lastIndexOf('@');
  // An `@` after a secret parameter's name is in its value, or that
  // "parameter" is part of a password: all but the scheme is hidden.
  if (param && at > param.index) return `${scheme}***`;
  let out = param ? `${value.slice(0, param.index)}${param[1]}***` : value;
  if (at >= scheme.length) {
    // In a list, this one redaction spans from the first user to the last
    // `@`: every element's password is inside it.
    const userinfo = out.slice(scheme.length, at);
    const colon = userinfo.indexOf(':');
    // No colon: a lone "user", where many write the password (`redis://pw@host`).
    const shown = colon >= 0 ? `${userinfo.slice(0, colon)}:***` : '***';
    out = `${scheme}${shown}${out.slice(at)}`;
  } else if (scheme) {
    out = scheme + out.slice(scheme.length).replace(NOT_A_PORT, '$1:***');
  }
  return out;
}

/**
 * Redis commands that carry a password, as a message may quote them:
 * `AUTH [user] pw`, `HELLO 3 AUTH user pw`, `CONFIG SET requirepass pw`,
 * `MIGRATE ... AUTH pw` / `AUTH2 user pw`, `ACL SETUSER u >pw`. Everything
 * after the keyword, to the end of the line, is hidden: the arguments'
 * count varies, and a quoted list may hold spaces.
 */
const COMMAND_SECRET = /\b(AUTH2?|requirepass|masterauth|SETUSER)\b[^\r\n]*/gi;

/** A URL with a user:password anywhere in a text: up to the last `@` before a space. */
const URL_IN_TEXT = /[A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s"'<>]*/g;

/**
 * A library's error message, safe to log: URLs redacted and the arguments
 * of password-carrying commands hidden. Redis's own replies never echo a
 * password (`WRONGPASS invalid username-password pair`), but a message may
 * be built from a command (ioredis's "Last reply" of a confused queue) or
 * a URL (a connect error of another client).
 */
export function redactText(text: string): string {
  return text.replace(URL_IN_TEXT, (url) => redactUrl(url)).replace(COMMAND_SECRET, '$1 ***');
}

/**
 * A replacer of the given secrets, wherever they appear in a text, in the
 * forms a log line may hold them: as is, percent-encoded (in a URL) and
 * JSON-escaped (in a JSON log line). For the logger (see logger.ts), so
 * that a secret this process knows never leaves it in any field.
 */
export function secretHider(secrets: readonly (string | undefined)[]): ((text: string) => string) | undefined {
  const forms = new Set<string>();
  for (const secret of secrets) {
    // A secret of a character or two would garble every line and hide nothing.
    if (secret === undefined || secret.length < 3) continue;
    forms.add(secret).add(encodeURIComponent(secret)).add(JSON.stringify(secret).slice(1, -1));
  }
  if (forms.size === 0) return undefined;
  // Longest first, so that a form holding another is replaced whole.
  const ordered = [...forms].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const form of ordered) if (out.includes(form)) out = out.split(form).join('***');
    return out;
  };
}

/** The secrets of an app's configuration: the Redis password(s) and the board's. */
export function configSecrets(config: { readonly REDIS_URL?: string; readonly ADMIN_PASSWORD?: string | undefined }): string[] {
  return [...(config.REDIS_URL ? urlSecrets(config.REDIS_URL) : []), ...(config.ADMIN_PASSWORD ? [config.ADMIN_PASSWORD] : [])];
}

/** The passwords a Redis URL holds, decoded and as written. */
export function urlSecrets(url: string): string[] {
  const out = new Set<string>();
  try {
    const u = new URL(url);
    if (u.password) out.add(u.password).add(safeDecode(u.password));
    for (const [key, v] of u.searchParams) if (/pass|pwd|secret|token/i.test(key) && v) out.add(v);
  } catch {
    // Not a URL: config validation stopped it before any client saw it.
  }
  return [...out];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
