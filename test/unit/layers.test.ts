// The layers of src/ point one way: db/ (and config) ← security/ ← http/ ← domain folders ← plugins/ ←
// app.ts / server.ts. plugins/ know no domain folder (app.ts hands them what they need), no
// folder imports app.ts or server.ts, and no two folders import each other. Type-only imports
// are erased at run time and left out.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve('src');
// http/ holds what routes share to answer HTTP (a Problem's status, the :id loader): below the domains.
const RANK: Record<string, number> = {
  config: 0,
  db: 0,
  schemas: 0,
  security: 1,
  http: 1.5,
  plugins: 3,
  app: 4,
  server: 5,
};
const rankOf = (folder: string) => RANK[folder] ?? 2; // every other folder is a domain folder

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** `users` for src/users/x.ts, `app` for src/app.ts. */
const folderOf = (file: string) =>
  path
    .relative(SRC, file)
    .split(path.sep)[0]!
    .replace(/\.[jt]s$/, '');

function folderImports(): Array<{ from: string; to: string; file: string }> {
  return sourceFiles(SRC).flatMap((file) => {
    const text = fs.readFileSync(file, 'utf8');
    return [...text.matchAll(/^import (?!type )[^;]*?from '(\.[^']+)'/gms)].flatMap(([, target]) => {
      const from = folderOf(file);
      const to = folderOf(path.resolve(path.dirname(file), target!));
      return from === to ? [] : [{ from, to, file: path.relative(SRC, file) }];
    });
  });
}

describe('layers of src/', () => {
  const imports = folderImports();

  it('finds the imports it checks', () => {
    expect(imports.length).toBeGreaterThan(50);
  });

  it('imports only run down', () => {
    const upward = imports.filter(
      ({ from, to }) => rankOf(to) > rankOf(from) || (from === 'plugins' && rankOf(to) === 2),
    );
    expect(upward.map(({ file, to }) => `${file} imports from ${to}/`)).toEqual([]);
  });

  it('no two folders import each other', () => {
    const pairs = new Set(imports.map(({ from, to }) => `${from}>${to}`));
    const circles = [...pairs].filter((pair) => pairs.has(pair.split('>').reverse().join('>')));
    expect(circles).toEqual([]);
  });
});
