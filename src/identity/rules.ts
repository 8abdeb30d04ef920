// Annotations → Identity. The rules for which annotation wins, and every warning about an
// annotation, live here; the mutation itself never reads an annotation.
import { boundTokenExpiration, parseWholeNumber, type MutationOptions } from '../options.js';

export type Annotations = Record<string, string>;

export interface Identity {
  roleArn: string;
  audience: string;
  expirationSeconds: number;
  tokenMountPath: string;
  regionalSts: boolean;
  region: string;
  skipContainers: ReadonlySet<string>;
}

export interface IdentityResult {
  /** Undefined when the ServiceAccount asks for no role: the Pod is left alone. */
  identity: Identity | undefined;
  warnings: string[];
}

export const ANNOTATION_KEYS = [
  'role-arn',
  'audience',
  'sts-regional-endpoints',
  'token-expiration',
  'skip-containers',
];

const ROLE_ARN = /^arn:[a-z][a-z0-9-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

/** `roleArn`, `role_arn` and `ROLE-ARN` all normalise to `rolearn`. */
const normalise = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');
const NORMALISED_KEYS = new Map(ANNOTATION_KEYS.map((key) => [normalise(key), key]));

/** Keeps only the annotations under `prefix/`, keyed by what follows it: what the cache stores. */
export function annotationsUnder(prefix: string, annotations: Annotations | undefined): Annotations {
  const kept: Annotations = {};
  for (const [key, value] of Object.entries(annotations ?? {})) {
    if (key.startsWith(`${prefix}/`)) kept[key.slice(prefix.length + 1)] = value;
  }
  return kept;
}

/** The known key a mistyped annotation key was meant to be (another prefix or spelling), if any. */
function typoOf(prefix: string, key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const name = key.slice(slash + 1);
  const known = NORMALISED_KEYS.get(normalise(name));
  if (known === undefined || key === `${prefix}/${known}`) return undefined;
  return known;
}

/**
 * The annotations this webhook reads or warns about: those under the prefix and likely typos.
 * The ServiceAccount cache keeps only these, so its memory does not grow with unrelated annotations.
 */
export function relevantAnnotations(prefix: string, annotations: Annotations | undefined): Annotations {
  const kept: Annotations = {};
  for (const [key, value] of Object.entries(annotations ?? {})) {
    if (key.startsWith(`${prefix}/`) || typoOf(prefix, key) !== undefined) kept[key] = value;
  }
  return kept;
}

export function annotationTypos(prefix: string, annotations: Annotations | undefined): string[] {
  const warnings: string[] = [];
  for (const key of Object.keys(annotations ?? {})) {
    const known = typoOf(prefix, key);
    if (known !== undefined)
      warnings.push(`ServiceAccount annotation "${key}" is ignored; did you mean "${prefix}/${known}"?`);
  }
  return warnings;
}

export function resolveIdentity(
  serviceAccount: Annotations,
  pod: Annotations,
  options: MutationOptions,
): IdentityResult {
  const warnings: string[] = [];
  const roleArn = serviceAccount['role-arn'] ?? '';
  if (roleArn === '') return { identity: undefined, warnings };
  if (!ROLE_ARN.test(roleArn)) {
    warnings.push(
      `role ARN "${roleArn}" does not look like arn:<partition>:iam::<12-digit account>:role/<name>; injected as given`,
    );
  }
  return {
    identity: {
      roleArn,
      audience: serviceAccount['audience'] || options.tokenAudience,
      expirationSeconds: tokenExpiration(serviceAccount, pod, options.tokenExpiration, warnings),
      tokenMountPath: options.tokenMountPath,
      regionalSts: regionalSts(serviceAccount, options.stsRegionalEndpoint, warnings),
      region: options.awsDefaultRegion,
      skipContainers: new Set([
        ...containerList(serviceAccount['skip-containers']),
        ...containerList(pod['skip-containers']),
      ]),
    },
    warnings,
  };
}

/** The Pod's annotation wins over the ServiceAccount's, which wins over the flag. */
function tokenExpiration(
  serviceAccount: Annotations,
  pod: Annotations,
  fallback: number,
  warnings: string[],
): number {
  for (const [source, value] of [
    ['Pod', pod['token-expiration']],
    ['ServiceAccount', serviceAccount['token-expiration']],
  ]) {
    if (value === undefined) continue;
    const seconds = parseWholeNumber(value);
    if (seconds === undefined) {
      warnings.push(
        `${source} annotation token-expiration "${value}" is not a whole number of seconds; ignored`,
      );
      continue;
    }
    const bounded = boundTokenExpiration(`${source} annotation token-expiration`, seconds);
    if (bounded.warning !== undefined) warnings.push(bounded.warning);
    return bounded.seconds;
  }
  return fallback;
}

function regionalSts(serviceAccount: Annotations, fallback: boolean, warnings: string[]): boolean {
  const value = serviceAccount['sts-regional-endpoints'];
  if (value === undefined) return fallback;
  if (value === 'true' || value === 'false') return value === 'true';
  warnings.push(`ServiceAccount annotation sts-regional-endpoints "${value}" is not true or false; ignored`);
  return fallback;
}

function containerList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}
