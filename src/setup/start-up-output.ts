// What `npm start` prints besides the request logs: the first start's one-time password in a
// banner of its own (on stderr, never amid the JSON logs on stdout), and, on a terminal, the
// logs as short readable lines instead of JSON. Pure: the server writes what these return.
import type { FirstAdmin } from './first-start.js';

/** The first start's banner: who to log in as, where, and the password (shown only here). */
export function firstStartBanner(admin: FirstAdmin, url: string): string {
  const lines = [
    'FIRST START: an administrator account was created.',
    '',
    `  Log in at:  ${url}/login`,
    `  User Name:  ${admin.username}`,
    admin.generatedPassword
      ? `  Password:   ${admin.generatedPassword}`
      : '  Password:   the one in ROSTER_ADMIN_PASSWORD',
    '',
    admin.generatedPassword
      ? 'This password is shown only now and is not stored in the clear: copy it.'
      : 'Roster did not print it: it is yours already.',
    'At the first login you choose a new password.',
  ];
  const width = Math.max(...lines.map((line) => line.length)) + 4;
  const rule = '#'.repeat(width);
  return ['', rule, ...lines.map((line) => `# ${line.padEnd(width - 4)} #`), rule, ''].join('\n');
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/**
 * One pino JSON line as a terminal reader wants it: time, level, message, then the request's
 * method, URL, status and duration where the line has them (any other fields as compact JSON).
 * A line that is not JSON is passed on as it is.
 */
export function prettyLogLine(line: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  const { time, level, msg, pid: _pid, hostname: _hostname, reqId, req, res, responseTime, ...rest } = entry;
  const at = typeof time === 'number' ? new Date(time).toISOString().slice(11, 19) : '--:--:--';
  const parts = [at, (LEVELS[level as number] ?? String(level)).padEnd(5), String(msg ?? '')];
  const request = req as { method?: string; url?: string } | undefined;
  if (request?.method) parts.push(`${request.method} ${request.url ?? ''}`);
  const response = res as { statusCode?: number } | undefined;
  if (response?.statusCode !== undefined) parts.push(String(response.statusCode));
  if (typeof responseTime === 'number') parts.push(`${responseTime.toFixed(1)} ms`);
  if (reqId !== undefined) parts.push(`[${String(reqId)}]`);
  if (Object.keys(rest).length > 0) parts.push(JSON.stringify(rest));
  return `${parts.join(' ')}\n`;
}
