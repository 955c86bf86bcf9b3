// Secrets in configuration that the status API shows: monitor request headers (`Authorization: Bearer …`), pool
// origin headers, webhook headers, credentials in URLs and query strings. The API shows the configuration so that
// an operator can see what runs; it must not hand out the credentials in it, and it is open by default (no
// `http_token`). Values of secret-looking names are replaced by REDACTED; the names stay, so the operator still
// sees that a header is set.

export const REDACTED = '[redacted]';

/**
 * Header, parameter and field names whose values are credentials: the standard credential headers (RFC 9110
 * §11.6.2 Authorization, §11.7.2 Proxy-Authorization; RFC 6265 §4 Cookie/Set-Cookie) and any name that mentions a
 * token, secret, key, password, auth, session or credential (X-Api-Key, X-Auth-Token, client_secret, …).
 */
const SECRET_NAME = /token|secret|key|passw(or)?d|passphrase|auth|cookie|session|credential|signature/i;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** A header map ({name: value} or {name: [values]}) with the values of secret-looking names replaced. */
export function redactHeaders<V extends string | readonly string[]>(headers: Readonly<Record<string, V>>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!isSecretName(name)) out[name] = value;
    else out[name] = (typeof value === 'string' ? REDACTED : value.map(() => REDACTED)) as unknown as V;
  }
  return out;
}

/** `a=1&token=x` → `a=1&token=[redacted]`: values of secret-looking parameters; the rest is kept as written. */
function redactQuery(query: string): string {
  return query
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // malformed escapes: judge the name as written
      }
      return isSecretName(name) ? `${pair.slice(0, eq)}=${REDACTED}` : pair;
    })
    .join('&');
}

/**
 * A URL or a request target (`/health?token=…`) with the password of its user info and the values of its
 * secret-looking query parameters replaced; anything else is returned as written.
 */
export function redactUrl(url: string): string {
  let out = url;
  // scheme://user:password@host → scheme://user:[redacted]@host (the user name alone is not a secret)
  out = out.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):[^/?#@]*@/i, `$1:${REDACTED}@`);
  const q = out.indexOf('?');
  if (q < 0) return out;
  const hash = out.indexOf('#', q);
  const query = hash < 0 ? out.slice(q + 1) : out.slice(q + 1, hash);
  return `${out.slice(0, q + 1)}${redactQuery(query)}${hash < 0 ? '' : out.slice(hash)}`;
}

/**
 * JSON.stringify replacer: the last line of defence for anything the API serialises. Header maps (`header`,
 * `headers`) lose their secret values, string fields with secret-looking names are replaced, `url` and `path`
 * fields lose credentials. Views redact explicitly as well; this catches what a future view forgets.
 */
export function redactReplacer(this: unknown, key: string, value: unknown): unknown {
  if (key === '') return value;
  if ((key === 'header' || key === 'headers') && value && typeof value === 'object' && !Array.isArray(value)) {
    const out: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
      if (!isSecretName(name)) out[name] = v;
      else out[name] = Array.isArray(v) ? v.map(() => REDACTED) : REDACTED;
    }
    return out;
  }
  if (typeof value !== 'string') return value;
  if (isSecretName(key)) return REDACTED;
  if (key === 'url' || key === 'path') return redactUrl(value);
  return value;
}
