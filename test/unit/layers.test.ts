// The layers of src/ point one way: db/ (and config) ← security/ ← http/ ← domain folders ← plugins/ ←
// app.ts / server.ts. plugins/ know no domain folder (app.ts hands them what they need), no
// folder imports app.ts or server.ts, and no two folders import each other. Type-only imports
// are erased at run time but still tie the folders together: they obey the same rules. What a
// domain's routes share to answer HTTP (a Problem's status, the :id loader) is in http/, below them.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve('src');
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

function folderImports(): Array<{ from: string; to: string; file: string; target: string }> {
  return sourceFiles(SRC).flatMap((file) => {
    const text = fs.readFileSync(file, 'utf8');
    // `import …`, `import type …` and `export … from` (re-exports tie folders too).
    return [...text.matchAll(/^(?:import|export) [^;]*?from '(\.[^']+)'/gms)].flatMap(([, target]) => {
      const resolved = path.resolve(path.dirname(file), target!).replace(/\.js$/, '.ts');
      const from = folderOf(file);
      const to = folderOf(resolved);
      return from === to ? [] : [{ from, to, file: path.relative(SRC, file), target: resolved }];
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

  it('no folders import each other round a longer circle either', () => {
    const next = new Map<string, Set<string>>();
    for (const { from, to } of imports) next.set(from, (next.get(from) ?? new Set()).add(to));
    // A folder is on a circle when it can reach itself.
    const reaches = (start: string) => {
      const seen = new Set<string>();
      const todo = [...(next.get(start) ?? [])];
      while (todo.length > 0) {
        const folder = todo.pop()!;
        if (seen.has(folder)) continue;
        seen.add(folder);
        todo.push(...(next.get(folder) ?? []));
      }
      return seen.has(start);
    };
    expect([...next.keys()].filter(reaches)).toEqual([]);
  });
});
