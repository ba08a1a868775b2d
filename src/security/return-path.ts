// Where a login (or a forced password reset) sends the person afterwards. The value comes from
// the query string or a form, so it is attacker-controlled: it must stay on this site, and it
// ends up in a Location header, which must never carry a control character or non-ASCII text.

export const RETURN_PATH_MAX = 2048;

// Visible ASCII only: no whitespace, no control characters, nothing outside Latin-1 (which
// would make the header invalid), no backslash (browsers read it as a slash).
const VISIBLE_ASCII_WITHOUT_BACKSLASH = /^[\x21-\x5b\x5d-\x7e]+$/;

/**
 * `value` when it is a same-origin path — one leading `/` (not `//`), visible ASCII without a
 * backslash, at most 2,048 characters, and the same once percent-decoded (so `%0d%0a`, `%09`,
 * `%5c` or `/%2f` cannot smuggle anything in) — else `/`.
 */
export function safeReturnPath(value: unknown): string {
  if (typeof value !== 'string' || value.length > RETURN_PATH_MAX) return '/';
  if (!isSafePath(value)) return '/';
  let decoded: string;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    return '/'; // invalid percent-encoding
  }
  // Decoded, non-ASCII letters are fine (they stay encoded in the header); what a browser or a
  // proxy might act on is not: control characters, white space, backslashes, a second slash.
  return decoded[1] !== '/' && !DANGEROUS_ONCE_DECODED.test(decoded) ? value : '/';
}

const DANGEROUS_ONCE_DECODED = /[\p{Cc}\p{Z}\s\\]/u;

function isSafePath(path: string): boolean {
  return path.startsWith('/') && path[1] !== '/' && VISIBLE_ASCII_WITHOUT_BACKSLASH.test(path);
}
