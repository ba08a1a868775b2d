import { describe, expect, it } from 'vitest';
import { firstStartBanner, prettyLogLine } from '../../src/setup/start-up-output.js';

describe('start-up output', () => {
  it('puts the one-time password in a banner of its own, every line framed, naming the login page and user', () => {
    const banner = firstStartBanner(
      { username: 'admin', generatedPassword: 'Pw-1234567890abcdefghijk' },
      'http://localhost:3000',
    );
    const lines = banner.trim().split('\n');
    expect(lines[0]).toMatch(/^#+$/);
    expect(lines.at(-1)).toBe(lines[0]);
    for (const line of lines) expect(line).toHaveLength(lines[0]!.length); // a closed box
    expect(banner).toContain('Log in at:  http://localhost:3000/login');
    expect(banner).toContain('User Name:  admin');
    expect(banner).toContain('Password:   Pw-1234567890abcdefghijk');
    expect(banner).not.toContain('{'); // no JSON around it
    const fromEnv = firstStartBanner({ username: 'admin', generatedPassword: null }, 'http://localhost:3000');
    expect(fromEnv).toContain('the one in ROSTER_ADMIN_PASSWORD');
  });

  it('turns pino JSON lines into short readable ones on a terminal, and passes other text on', () => {
    const time = Date.UTC(2026, 0, 2, 3, 4, 5);
    const completed = JSON.stringify({
      level: 30,
      time,
      pid: 1,
      hostname: 'h',
      reqId: 'req-7',
      res: { statusCode: 303 },
      responseTime: 4.25,
      msg: 'request completed',
    });
    expect(prettyLogLine(`${completed}\n`)).toBe('03:04:05 INFO  request completed 303 4.3 ms [req-7]\n');
    const incoming = JSON.stringify({
      level: 30,
      time,
      reqId: 'req-7',
      req: { method: 'POST', url: '/login', host: 'x' },
      msg: 'incoming request',
    });
    expect(prettyLogLine(incoming)).toBe('03:04:05 INFO  incoming request POST /login [req-7]\n');
    const error = JSON.stringify({ level: 50, time, msg: 'shutdown failed', err: { message: 'boom' } });
    expect(prettyLogLine(error)).toBe('03:04:05 ERROR shutdown failed {"err":{"message":"boom"}}\n');
    expect(prettyLogLine('not json')).toBe('not json\n');
  });
});
