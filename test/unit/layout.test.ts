// The tree reads as the data flow: every import runs down it, never back up or sideways, and the
// pure core (admission, mutation, identity, irsa) does no I/O.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = new URL('../../src/', import.meta.url).pathname;

/** Top to bottom. A module may import its own room or a lower one. */
const LAYERS: string[][] = [
  ['cli'],
  ['commands'],
  ['server', 'certificates'],
  ['admission'],
  ['serviceaccounts', 'mutation'],
  // The IRSA toolkit (oidc, trust policies, sts, doctor) uses the identity rules, not the admission flow.
  ['irsa'],
  ['identity'],
  ['vocabulary.ts', 'cluster.ts', 'manifests.ts', 'read-text.ts', 'log.ts'],
];
const PURE = ['admission', 'mutation', 'identity', 'irsa', 'vocabulary.ts'];
const IO_MODULES =
  /^(node:(fs|net|http|https|tls|child_process|dgram)|fastify|pino|@kubernetes\/client-node)/;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

/** Imports that bring values (type-only imports cost nothing at run time and are left out). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = [...text.matchAll(/^import\s+(?!type\s)[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/gm)];
  return found.map((match) => (match[1] ?? match[2])!);
}

const room = (file: string): string => relative(SRC, file).split('/')[0]!;
const layerOf = (file: string): number => LAYERS.findIndex((layer) => layer.includes(room(file)));
const files = sources(SRC);
const edges = files.flatMap((file) =>
  imports(file)
    .filter((target) => target.startsWith('.'))
    .map((target) => ({ from: file, to: resolve(dirname(file), target.replace(/\.js$/, '.ts')) })),
);
const name = (file: string) => relative(SRC, file);

describe('the source tree', () => {
  it.each(files.map((file) => [name(file), file]))('%s sits in a known room', (_name, file) => {
    expect(layerOf(file)).toBeGreaterThanOrEqual(0);
  });

  it.each(edges.map((edge) => [`${name(edge.from)} → ${name(edge.to)}`, edge]))(
    '%s runs down the data flow',
    (_name, { from, to }) => {
      const sameRoom = room(from) === room(to);
      expect(sameRoom || layerOf(to) > layerOf(from)).toBe(true);
    },
  );

  it('has no import cycle', () => {
    const next = new Map<string, string[]>();
    for (const { from, to } of edges) next.set(from, [...(next.get(from) ?? []), to]);
    const done = new Set<string>();
    const visit = (file: string, path: string[]): void => {
      if (path.includes(file)) throw new Error(`cycle: ${[...path, file].map(name).join(' → ')}`);
      if (done.has(file)) return;
      for (const target of next.get(file) ?? []) visit(target, [...path, file]);
      done.add(file);
    };
    for (const file of files) visit(file, []);
  });

  it.each(files.filter((file) => PURE.includes(room(file))).map((file) => [name(file), file]))(
    '%s does no I/O',
    (_name, file) => {
      expect(imports(file).filter((target) => IO_MODULES.test(target))).toEqual([]);
    },
  );
});
