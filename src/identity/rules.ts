// Annotations → Identity. The rules for which annotation wins, and every warning about an
// annotation, live here; the mutation itself never reads an annotation.
import { ANNOTATION } from '../vocabulary.js';
import { boundTokenExpiration, isHttpUrl, parseWholeNumber, type MutationOptions } from './options.js';

export type Annotations = Record<string, string>;

export interface Identity {
  roleArn: string;
  audience: string;
  expirationSeconds: number;
  tokenMountPath: string;
  regionalSts: boolean;
  /** AWS_ENDPOINT_URL_STS, or '' for none. */
  stsEndpoint: string;
  region: string;
  skipContainers: ReadonlySet<string>;
}

export interface IdentityResult {
  /** Undefined when the ServiceAccount asks for no role: the Pod is left alone. */
  identity: Identity | undefined;
  warnings: string[];
}

export interface RawAnnotations {
  serviceAccount: Annotations | undefined;
  pod: Annotations | undefined;
}

const ANNOTATION_KEYS: string[] = Object.values(ANNOTATION);

const ROLE_ARN = /^arn:[a-z][a-z0-9-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

/** `roleArn`, `role_arn` and `ROLE-ARN` all normalise to `rolearn`. */
const normalise = (key: string): string => key.toLowerCase().replace(/[-_]/g, '');
const NORMALISED_KEYS = new Map(ANNOTATION_KEYS.map((key) => [normalise(key), key]));

/** Keeps only the annotations under `prefix/`, keyed by what follows it. */
function annotationsUnder(prefix: string, annotations: Annotations | undefined): Annotations {
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

function annotationTypos(
  prefix: string,
  owner: 'ServiceAccount' | 'Pod',
  annotations: Annotations | undefined,
): string[] {
  const warnings: string[] = [];
  for (const key of Object.keys(annotations ?? {})) {
    const known = typoOf(prefix, key);
    if (known !== undefined)
      warnings.push(`${owner} annotation "${key}" is ignored; did you mean "${prefix}/${known}"?`);
  }
  return warnings;
}

/**
 * The one entry point: raw annotations and options in, the identity and every warning out.
 *
 * Precedence, left to right: Pod > ServiceAccount > flag. A value that cannot be used is
 * warned about and the next source applies.
 *
 *   setting            Pod annotation       ServiceAccount annotation     flag
 *   role ARN           -                    role-arn (none: no change)    -
 *   audience           -                    audience                    > --token-audience
 *   token expiration   token-expiration   > token-expiration            > --token-expiration
 *   regional STS       -                    sts-regional-endpoints      > --sts-regional-endpoint
 *   STS endpoint       -                    sts-endpoint                > --sts-endpoint
 *   region             -                    -                             --aws-default-region
 *   skip containers    skip-containers    + skip-containers (the lists add up)
 *
 * A ConfigMap mapping, when it lands, sits between the ServiceAccount and the flag.
 */
export function resolveIdentity(raw: RawAnnotations, options: MutationOptions): IdentityResult {
  const prefix = options.annotationPrefix;
  const serviceAccount = annotationsUnder(prefix, raw.serviceAccount);
  const pod = annotationsUnder(prefix, raw.pod);
  const warnings = [
    ...annotationTypos(prefix, 'ServiceAccount', raw.serviceAccount),
    ...annotationTypos(prefix, 'Pod', raw.pod),
  ];
  const roleArn = serviceAccount[ANNOTATION.roleArn] ?? '';
  if (roleArn === '') return { identity: undefined, warnings };
  if (!ROLE_ARN.test(roleArn)) {
    warnings.push(
      `role ARN "${roleArn}" does not look like arn:<partition>:iam::<12-digit account>:role/<name>; injected as given`,
    );
  }
  return {
    identity: {
      roleArn,
      audience: serviceAccount[ANNOTATION.audience] || options.tokenAudience,
      expirationSeconds: tokenExpiration(serviceAccount, pod, options.tokenExpiration, warnings),
      tokenMountPath: options.tokenMountPath,
      regionalSts: regionalSts(serviceAccount, options.stsRegionalEndpoint, warnings),
      stsEndpoint: stsEndpoint(serviceAccount, options.stsEndpoint, warnings),
      region: options.awsDefaultRegion,
      skipContainers: new Set([
        ...containerList(serviceAccount[ANNOTATION.skipContainers]),
        ...containerList(pod[ANNOTATION.skipContainers]),
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
    ['Pod', pod[ANNOTATION.tokenExpiration]],
    ['ServiceAccount', serviceAccount[ANNOTATION.tokenExpiration]],
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
  const value = serviceAccount[ANNOTATION.stsRegionalEndpoints];
  if (value === undefined) return fallback;
  if (value === 'true' || value === 'false') return value === 'true';
  warnings.push(`ServiceAccount annotation sts-regional-endpoints "${value}" is not true or false; ignored`);
  return fallback;
}

function stsEndpoint(serviceAccount: Annotations, fallback: string, warnings: string[]): string {
  const value = serviceAccount[ANNOTATION.stsEndpoint];
  if (value === undefined) return fallback;
  if (isHttpUrl(value)) return value;
  warnings.push(`ServiceAccount annotation sts-endpoint "${value}" is not an http or https URL; ignored`);
  return fallback;
}

function containerList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}
