// diffPods is fast-json-patch's compare() without the deep copies: the same operations in the same
// order, for any two JSON documents, including ones that share subtrees as injectIdentity's do.
import type { V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import jsonpatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { applyPatch, diffPods } from '../../src/mutation/patch.js';

type Doc = Record<string, unknown>;

/** `after` built from `before`: some members replaced, removed or added, the rest shared. */
function edited(before: unknown, edits: readonly unknown[], depth = 0): unknown {
  if (typeof before !== 'object' || before === null || depth > 3) return before;
  const copy: Doc | unknown[] = Array.isArray(before) ? [...before] : { ...(before as Doc) };
  const keys = Object.keys(copy);
  edits.forEach((edit, i) => {
    const key = keys[i % Math.max(keys.length, 1)];
    const target = copy as Doc;
    if (i % 4 === 0 && key !== undefined) target[key] = edited(target[key], edits.slice(i + 1), depth + 1);
    else if (i % 4 === 1 && key !== undefined && !Array.isArray(copy)) delete target[key];
    else if (i % 4 === 2 && Array.isArray(copy)) copy.push(edit);
    else if (i % 4 === 2) target[`k~/${i}`] = edit;
    else if (key !== undefined) target[key] = edit;
  });
  return copy;
}

const doc = fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 });

describe('diffPods', () => {
  it('gives what fast-json-patch compare gives, and the patch turns one document into the other', () => {
    fc.assert(
      fc.property(doc, fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 8 }), doc, (a, edits, b) => {
        for (const [before, after] of [
          [a, edited(a, edits) as Doc],
          [a, b],
        ] as const) {
          const patch = diffPods(before as V1Pod, after as V1Pod);
          expect(patch).toEqual(jsonpatch.compare(before, after));
          expect(applyPatch(before as V1Pod, patch)).toEqual(JSON.parse(JSON.stringify(after)));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('escapes ~ and / in keys (RFC 6901) and skips shared subtrees', () => {
    const shared = { deep: { list: [1, 2, 3] } };
    const before = { spec: { shared, 'a/b~c': 1 } };
    const after = { spec: { shared, 'a/b~c': 2, added: [shared] } };
    expect(diffPods(before as unknown as V1Pod, after as unknown as V1Pod)).toEqual([
      { op: 'replace', path: '/spec/a~1b~0c', value: 2 },
      { op: 'add', path: '/spec/added', value: [shared] },
    ]);
  });
});
