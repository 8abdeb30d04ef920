// The patch is the difference between the original and the mutated Pod: a few `add` operations at
// exact paths. Never a rewrite of whole arrays, so fields this code does not know survive.
import jsonpatch, { type Operation } from 'fast-json-patch';
import type { V1Pod } from '@kubernetes/client-node';

export type { Operation };

type Node = Record<string, unknown>;

/**
 * fast-json-patch's compare(), the same operations in the same order, without its deep copy of
 * every added or replaced value (a JSON round trip each, most of the diff's time): the patch is
 * serialised at once and never changed, so it may share values with `mutated`. Subtrees that
 * injectIdentity shares with the original are skipped by identity.
 */
export function diffPods(original: V1Pod, mutated: V1Pod): Operation[] {
  const patch: Operation[] = [];
  diff(original as Node, mutated as Node, '', patch);
  return patch;
}

function diff(before: Node, after: Node, path: string, patch: Operation[]): void {
  if (before === after) return;
  const oldKeys = Object.keys(before);
  const newKeys = Object.keys(after);
  let removed = false;
  for (let i = oldKeys.length - 1; i >= 0; i--) {
    const key = oldKeys[i]!;
    const oldValue = before[key];
    const at = `${path}/${escapePathComponent(key)}`;
    if (
      Object.hasOwn(after, key) &&
      !(after[key] === undefined && oldValue !== undefined && !Array.isArray(after))
    ) {
      const newValue = after[key];
      if (
        isContainer(oldValue) &&
        isContainer(newValue) &&
        Array.isArray(oldValue) === Array.isArray(newValue)
      ) {
        diff(oldValue, newValue, at, patch);
      } else if (oldValue !== newValue) {
        // JSON has no undefined: an array hole is written as null, as JSON.stringify does.
        patch.push({ op: 'replace', path: at, value: newValue === undefined ? null : newValue });
      }
    } else {
      patch.push({ op: 'remove', path: at });
      removed = true;
    }
  }
  if (!removed && newKeys.length === oldKeys.length) return;
  for (const key of newKeys) {
    if (!Object.hasOwn(before, key) && after[key] !== undefined) {
      patch.push({ op: 'add', path: `${path}/${escapePathComponent(key)}`, value: after[key] });
    }
  }
}

const isContainer = (value: unknown): value is Node => typeof value === 'object' && value !== null;

/** RFC 6901: `~` is written `~0` and `/` is written `~1`. */
const escapePathComponent = (key: string): string =>
  key.includes('/') || key.includes('~') ? key.replace(/~/g, '~0').replace(/\//g, '~1') : key;

/** Applies a patch to a copy of `pod`, validating every operation against it. */
export function applyPatch(pod: V1Pod, patch: readonly Operation[]): V1Pod {
  return jsonpatch.applyPatch(structuredClone(pod), [...patch], true, false).newDocument;
}
