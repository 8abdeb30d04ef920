// `mutate`: the webhook's answer for one AdmissionReview or bare Pod manifest, offline.
import { randomUUID } from 'node:crypto';
import { admit } from '../admission/admit.js';
import { isPodCreate, parseReview, type AdmissionReview } from '../admission/review.js';
import { FileServiceAccountSource } from '../identity/file-source.js';
import { parseManifests } from '../manifests.js';
import { readText } from '../read-text.js';
import { applyPatch } from '../mutation/patch.js';
import type { MutationOptions } from '../options.js';
import type { V1Pod } from '@kubernetes/client-node';

export const OUTPUTS = ['review', 'patch', 'pod'] as const;
export type Output = (typeof OUTPUTS)[number];

export interface MutateFlags {
  serviceAccounts?: string;
  namespace: string;
  output: Output;
}

/** Returns what to print. Throws an Error naming the problem on bad input. */
export async function mutate(
  input: string,
  origin: string,
  flags: MutateFlags,
  options: MutationOptions,
): Promise<string> {
  const review = toReview(input, origin, flags.namespace);
  if (flags.output === 'pod' && !isPodCreate(review.request)) {
    const { operation, resource } = review.request;
    throw new Error(
      `${origin}: --output pod needs a Pod CREATE, got ${operation} of ${resource.resource}; use --output review`,
    );
  }
  const source = flags.serviceAccounts
    ? await FileServiceAccountSource.fromFile(flags.serviceAccounts)
    : new FileServiceAccountSource([]);
  const result = await admit(review, { source, options });
  const printed =
    flags.output === 'review'
      ? result.response
      : flags.output === 'patch'
        ? result.patch
        : applyPatch(review.request.object as V1Pod, result.patch);
  return `${JSON.stringify(printed, null, 2)}\n`;
}

function toReview(input: string, origin: string, namespace: string): AdmissionReview {
  const manifests = parseManifests(input, origin);
  if (manifests.length !== 1) {
    throw new Error(`${origin}: expected one AdmissionReview or Pod, found ${manifests.length} objects`);
  }
  const manifest = manifests[0]!;
  if (manifest['kind'] === 'Pod') {
    return {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: randomUUID(),
        kind: { group: '', version: 'v1', kind: 'Pod' },
        resource: { group: '', version: 'v1', resource: 'pods' },
        namespace,
        operation: 'CREATE',
        object: manifest,
      },
    };
  }
  if (manifest['kind'] !== 'AdmissionReview') {
    throw new Error(
      `${origin}: expected kind AdmissionReview or Pod, got ${JSON.stringify(manifest['kind']) ?? 'nothing'}`,
    );
  }
  return parseReview(manifest);
}

export async function readInput(file: string | undefined): Promise<{ text: string; origin: string }> {
  if (file === undefined || file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return { text: Buffer.concat(chunks).toString('utf8'), origin: 'stdin' };
  }
  return { text: await readText(file), origin: file };
}
