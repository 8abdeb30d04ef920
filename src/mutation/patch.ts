// The patch is the difference between the original and the mutated Pod: a few `add` operations at
// exact paths. Never a rewrite of whole arrays, so fields this code does not know survive.
import jsonpatch, { type Operation } from 'fast-json-patch';
import type { V1Pod } from '@kubernetes/client-node';

export type { Operation };

export function diffPods(original: V1Pod, mutated: V1Pod): Operation[] {
  return jsonpatch.compare(original, mutated);
}

/** Applies a patch to a copy of `pod`, validating every operation against it. */
export function applyPatch(pod: V1Pod, patch: readonly Operation[]): V1Pod {
  return jsonpatch.applyPatch(structuredClone(pod), [...patch], true, false).newDocument;
}
