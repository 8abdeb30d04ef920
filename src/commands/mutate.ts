// `mutate`: the webhook's answer for one AdmissionReview or bare Pod manifest, offline.
import { randomUUID } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { admit } from '../admission/admit.js';
import {
  InvalidReviewError,
  isPodCreate,
  parseReview,
  validatePod,
  type AdmissionReview,
} from '../admission/review.js';
import type { MutationOptions } from '../identity/options.js';
import { roleMappingFromConfigMap, type RoleMapping } from '../identity/role-mapping.js';
import { parseManifests, type Manifest } from '../manifests.js';
import { applyPatch } from '../mutation/patch.js';
import { readText } from '../read-text.js';
import { ContainerCredentialsConfig } from '../serviceaccounts/container-credentials-source.js';
import { FileServiceAccountSource } from '../serviceaccounts/file-source.js';
import type { Format, Output } from './mutate-formats.js';

export interface MutateFlags {
  serviceAccounts?: string;
  /** `--config-map`: a ConfigMap manifest whose `config` maps ServiceAccounts to roles, as `--watch-config-map`. */
  configMap?: string;
  namespace: string;
  output: Output;
  /** Unset: the format of the input. */
  format?: Format;
  /** `--watch-container-credentials-config`: the EKS Pod Identity ServiceAccounts, read once. */
  containerCredentialsConfig?: string;
}

export interface Input {
  text: string;
  /** Named in every error: the file name, or `stdin`. */
  origin: string;
}

export interface MutateResult {
  /** What to print on stdout. */
  text: string;
  /** Every warning of the review, whatever the output: the caller prints them on stderr. */
  warnings: string[];
}

/** Throws an Error naming the input and the problem on bad input. */
export async function mutate(
  input: Input,
  flags: MutateFlags,
  options: MutationOptions,
): Promise<MutateResult> {
  const { origin } = input;
  const { manifests, format: inputFormat } = named(origin, () => parseInput(input));
  const review = named(origin, () => toReview(manifests, flags.namespace));
  if (flags.output === 'pod' && !isPodCreate(review.request)) {
    const { operation, resource } = review.request;
    throw new Error(
      `${origin}: --output pod needs a Pod CREATE, got ${operation} of ${resource.resource}; use --output review`,
    );
  }
  const source = flags.serviceAccounts
    ? await FileServiceAccountSource.fromFile(flags.serviceAccounts)
    : new FileServiceAccountSource([]);
  const containerCredentials = flags.containerCredentialsConfig
    ? await ContainerCredentialsConfig.fromFile(flags.containerCredentialsConfig)
    : undefined;
  const roleMapping = flags.configMap === undefined ? undefined : await readRoleMapping(flags.configMap);
  const result = await named(origin, () =>
    admit(review, {
      source,
      options,
      ...(containerCredentials && { containerCredentials }),
      ...(roleMapping && { roleMapping }),
    }),
  );
  const printed =
    flags.output === 'review'
      ? result.response
      : flags.output === 'patch'
        ? result.patch
        : applyPatch(review.request.object as V1Pod, result.patch);
  const format = flags.format ?? inputFormat;
  const text = format === 'yaml' ? stringify(printed) : `${JSON.stringify(printed, null, 2)}\n`;
  return { text, warnings: result.warnings };
}

/**
 * JSON when the text starts as JSON does and parses as JSON; YAML otherwise (YAML's flow style
 * also starts with `{`). A `.json` file that does not parse gets JSON's error, not YAML's.
 */
function parseInput({ text, origin }: Input): { manifests: Manifest[]; format: Format } {
  const body = text.replace(/^\uFEFF/, '');
  if (!/^\s*[{[]/.test(body)) return { manifests: parseManifests(body, origin), format: 'yaml' };
  let json: Record<string, unknown>;
  try {
    json = parseJson(body);
  } catch (jsonError) {
    if (origin.endsWith('.json')) throw jsonError;
    try {
      return { manifests: parseManifests(body, origin), format: 'yaml' };
    } catch {
      throw jsonError;
    }
  }
  return { manifests: [json], format: 'json' };
}

function toReview(manifests: Manifest[], namespace: string): AdmissionReview {
  if (manifests.length !== 1) {
    throw new Error(`expected one AdmissionReview or Pod, found ${manifests.length} objects`);
  }
  const manifest = manifests[0]!;
  if (manifest['kind'] === 'Pod') {
    validatePod(manifest, '');
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
      `expected kind AdmissionReview or Pod, got ${JSON.stringify(manifest['kind']) ?? 'nothing'}`,
    );
  }
  return parseReview(manifest);
}

function parseJson(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`invalid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`expected a JSON object, got ${Array.isArray(value) ? 'an array' : String(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Runs `step`, prefixing the message of what it throws with the input's name (once). */
function named<T>(origin: string, step: () => T): T {
  const prefix = (error: unknown): never => {
    const message = (error as Error).message;
    if (message.startsWith(`${origin}: `)) throw error;
    const Named = error instanceof InvalidReviewError ? InvalidReviewError : Error;
    throw new Named(`${origin}: ${message}`);
  };
  try {
    const result = step();
    return result instanceof Promise ? (result.catch(prefix) as T) : result;
  } catch (error) {
    return prefix(error);
  }
}

/** The ConfigMap of `--config-map FILE` (YAML or JSON, one object), read as `--watch-config-map` reads it. */
async function readRoleMapping(file: string): Promise<RoleMapping> {
  const origin = `--config-map ${file}`;
  const manifests = parseManifests(await readText(file, origin), origin);
  if (manifests.length !== 1) {
    throw new Error(`${origin}: expected one ConfigMap, found ${manifests.length} objects`);
  }
  return roleMappingFromConfigMap(manifests[0]!, origin);
}

export async function readInput(file: string | undefined): Promise<Input> {
  if (file === undefined || file === '-') {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return { text: Buffer.concat(chunks).toString('utf8'), origin: 'stdin' };
  }
  return { text: await readText(file), origin: file };
}
