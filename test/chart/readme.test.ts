// The chart README's values table and values.schema.json list the same values: every row names a
// leaf of the schema, and every leaf has a row. A value added, renamed or removed in one and not
// the other fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chartDir, valuesSchema } from './harness.js';

interface Schema {
  $ref?: string;
  properties?: Record<string, Schema>;
  [key: string]: unknown;
}

/** Dotted paths of the schema's leaves: values that are not objects with declared properties. */
export function schemaLeaves(root: Schema): string[] {
  const resolve = (node: Schema): Schema => {
    if (!node.$ref) return node;
    if (!node.$ref.startsWith('#/')) throw new Error(`unsupported $ref ${node.$ref}`);
    let target: unknown = root;
    for (const part of node.$ref.slice(2).split('/')) target = (target as Record<string, unknown>)[part];
    if (target === undefined) throw new Error(`unresolved $ref ${node.$ref}`);
    return resolve({ ...(target as Schema), ...node, $ref: undefined });
  };
  const leaves: string[] = [];
  const walk = (node: Schema, path: string[]): void => {
    const resolved = resolve(node);
    if (resolved.properties && Object.keys(resolved.properties).length > 0) {
      for (const [key, child] of Object.entries(resolved.properties)) walk(child, [...path, key]);
    } else {
      leaves.push(path.join('.'));
    }
  };
  walk(root, []);
  return leaves;
}

/** The keys of the README's values tables: those whose header reads Key | Type | Default | .... */
export function readmeValueRows(markdown: string): string[] {
  const cells = (line: string) =>
    line
      .trim()
      .replace(/^\||\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((cell) => cell.trim());
  const rows: string[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const header = lines[i]!.trim().startsWith('|') ? cells(lines[i]!).map((c) => c.toLowerCase()) : [];
    if (header[1] !== 'type' || header[2] !== 'default') continue;
    for (i += 2; i < lines.length && lines[i]!.trim().startsWith('|'); i++) {
      const key = /^`([^`]+)`$/.exec(cells(lines[i]!)[0] ?? '');
      if (!key) throw new Error(`README values row without a \`key\` in its first cell: ${lines[i]}`);
      rows.push(key[1]!);
    }
  }
  return rows;
}

describe('the chart README', () => {
  const readme = readFileSync(join(chartDir, 'README.md'), 'utf8');
  const rows = readmeValueRows(readme);
  const leaves = schemaLeaves(valuesSchema() as Schema);

  it('has a values table (| `key` | type | default | description |)', () => {
    expect(rows.length).toBeGreaterThan(0);
    expect(
      rows.filter((row, i) => rows.indexOf(row) !== i),
      'listed twice',
    ).toEqual([]);
  });

  it('lists only values the schema has', () => {
    expect(rows.filter((row) => !leaves.includes(row))).toEqual([]);
  });

  it('lists every value the schema has', () => {
    expect(leaves.filter((leaf) => !rows.includes(leaf))).toEqual([]);
  });
});
