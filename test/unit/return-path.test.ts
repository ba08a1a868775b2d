import { describe, expect, it } from 'vitest';
import { RETURN_PATH_MAX, safeReturnPath } from '../../src/security/return-path.js';

describe('safeReturnPath', () => {
  it('keeps same-origin paths, query strings and percent-encoded text', () => {
    for (const path of [
      '/',
      '/admin/users',
      '/admin/users?q=smith&sort=email',
      '/profile#sessions',
      '/admin/users?q=J%C3%BCrgen',
      '/a/b/../c',
    ]) {
      expect(safeReturnPath(path), path).toBe(path);
    }
  });

  it('turns the payloads that crashed the server or redirected elsewhere into /', () => {
    const payloads = [
      '/\r\nX', // CR LF: header injection
      '/%0d%0aX',
      '/%0D%0ASet-Cookie:x=1',
      '/\t/evil.example/x', // browsers drop the tab: //evil.example/x
      '/%09/evil.example/x',
      '/\u000b', // vertical tab
      '/%0b',
      '/ü', // not Latin-1-safe in a header
      '/\u2028',
      '/\u0000',
      '/%00',
      '/ x',
      '/%20/evil.example',
    ];
    for (const payload of payloads) expect(safeReturnPath(payload), JSON.stringify(payload)).toBe('/');
  });

  it('turns the usual open-redirect list into /', () => {
    const payloads = [
      '//evil.example',
      '//evil.example/%2f..',
      '///evil.example',
      '/\\evil.example',
      '/%5cevil.example',
      '/%5Cevil.example',
      '\\\\evil.example',
      '/%2fevil.example',
      '/%2F%2Fevil.example',
      'https://evil.example',
      'http:evil.example',
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      '//evil.example@roster.example',
      'evil.example',
      '',
      ' /admin',
      '/%E0%A4%A', // invalid percent-encoding
      '/%',
    ];
    for (const payload of payloads) expect(safeReturnPath(payload), JSON.stringify(payload)).toBe('/');
  });

  it('refuses non-strings and over-long paths', () => {
    expect(safeReturnPath(undefined)).toBe('/');
    expect(safeReturnPath(['/a', '/b'])).toBe('/');
    expect(safeReturnPath({ toString: () => '/a' })).toBe('/');
    const long = '/' + 'a'.repeat(RETURN_PATH_MAX - 1);
    expect(safeReturnPath(long)).toBe(long);
    expect(safeReturnPath(long + 'a')).toBe('/');
  });
});
