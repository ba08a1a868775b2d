// The repository explains itself (docs/architecture.md): every docs page a comment cites, with its
// section, exists; every relative link in the README and docs/ leads somewhere; and nothing points
// at documents outside the repository.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve('.');

function filesUnder(dir: string, extensions: readonly string[]): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(full, extensions);
    return extensions.some((extension) => entry.name.endsWith(extension)) ? [full] : [];
  });
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/`/g, '')
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Every anchor a Markdown file offers, duplicates numbered as GitHub numbers them. */
function anchorsOf(file: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const base = anchorOf(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

const SOURCES = [
  ...['src', 'test', 'views', 'bench'].flatMap((dir) => filesUnder(path.join(ROOT, dir), ['.ts', '.js', '.eta'])),
];
const MARKDOWN = [path.join(ROOT, 'README.md'), ...filesUnder(path.join(ROOT, 'docs'), ['.md'])];

describe('docs cited in the code', () => {
  const citations = SOURCES.flatMap((file) =>
    [...fs.readFileSync(file, 'utf8').matchAll(/\bdocs\/([a-z0-9-]+\.md)(?:#([a-z0-9-]+))?/g)].map(
      ([, page, anchor]) => ({ file: path.relative(ROOT, file), page: page!, anchor }),
    ),
  );

  it('finds the citations it checks', () => {
    expect(citations.length).toBeGreaterThan(30);
  });

  it('each cited page and section exists', () => {
    const missing = citations.filter(({ page, anchor }) => {
      const target = path.join(ROOT, 'docs', page);
      return !fs.existsSync(target) || (anchor !== undefined && !anchorsOf(target).has(anchor));
    });
    expect(missing.map(({ file, page, anchor }) => `${file}: docs/${page}${anchor ? `#${anchor}` : ''}`)).toEqual([]);
  });
});

describe('links in the README and docs/', () => {
  const links = MARKDOWN.flatMap((file) =>
    [...fs.readFileSync(file, 'utf8').matchAll(/\]\(([^)\s]+)\)/g)]
      .map(([, target]) => target!)
      .filter((target) => !/^[a-z]+:/i.test(target))
      .map((target) => ({ file, target })),
  );

  it('finds the links it checks', () => {
    expect(links.length).toBeGreaterThan(20);
  });

  it('each relative link leads to a file and, with an anchor, to its heading', () => {
    const broken = links.filter(({ file, target }) => {
      const [page, anchor] = target.split('#') as [string, string | undefined];
      const resolved = page === '' ? file : path.resolve(path.dirname(file), page);
      if (!fs.existsSync(resolved)) return true;
      return anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor);
    });
    expect(broken.map(({ file, target }) => `${path.relative(ROOT, file)}: ${target}`)).toEqual([]);
  });
});

describe('the repository', () => {
  it('points to no document outside it', () => {
    const outside = ['..', 'shared', ''].join('/'); // spelled so that this file does not match itself
    const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
      .split('\0')
      .filter((file) => file !== '' && file !== 'package-lock.json' && fs.existsSync(path.join(ROOT, file)));
    const pointing = tracked.filter((file) => fs.readFileSync(path.join(ROOT, file), 'utf8').includes(outside));
    expect(pointing).toEqual([]);
  });
});

describe('anchorOf', () => {
  it('makes the anchors GitHub makes', () => {
    expect(anchorOf('Login, two-factor and lockout')).toBe('login-two-factor-and-lockout');
    expect(anchorOf('Permissions and no way up')).toBe('permissions-and-no-way-up');
    expect(anchorOf('What reaches a user is changed only by someone as strong')).toBe(
      'what-reaches-a-user-is-changed-only-by-someone-as-strong',
    );
    expect(anchorOf('`reply.problemPage`')).toBe('replyproblempage');
  });
});
