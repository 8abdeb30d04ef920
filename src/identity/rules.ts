// Annotations → Identity. The rules for which annotation wins, and every warning about an
// annotation, live here; the mutation itself never reads an annotation.
import { ANNOTATION } from '../vocabulary.js';
import {
  boundTokenExpiration,
  isHttpUrl,
  MAX_GROUP_ID,
  type MutationOptions,
  parseGoBool,
  parseGroupId,
  parseWholeNumber,
} from './options.js';

export type Annotations = Record<string, string>;

export interface Identity {
  /** The role; '' for a Pod that gets only the region variables (`--region-without-role`). */
  roleArn: string;
  audience: string;
  expirationSeconds: number;
  tokenMountPath: string;
  regionalSts: boolean;
  /** AWS_ENDPOINT_URL_STS, or '' for none. */
  stsEndpoint: string;
  region: string;
  skipContainers: ReadonlySet<string>;
  /** When defined, only these containers are mutated; a skipped one stays skipped. */
  includeContainers: ReadonlySet<string> | undefined;
  /** `spec.securityContext.fsGroup` when the Pod sets none; undefined for none. */
  fsGroup: number | undefined;
  /** Inject AWS_ROLE_SESSION_NAME from the Pod's name (downward API). */
  roleSessionNameFromPod: boolean;
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
/** eu-west-1, us-gov-west-1, cn-north-1, eusc-de-east-1. */
const REGION = /^[a-z]+(-[a-z]+)+-\d+$/;
/** Names too common to guess at under another prefix (`topology.kubernetes.io/region`). */
const GENERIC_NAMES: ReadonlySet<string> = new Set([ANNOTATION.region]);

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
  if (GENERIC_NAMES.has(known) && slash !== -1 && key.slice(0, slash) !== prefix) return undefined;
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
 *   setting            Pod annotation        ServiceAccount annotation      flag
 *   role ARN           role-arn (1)        > role-arn (none: see below)     -
 *   audience           -                     audience                     > --token-audience
 *   token expiration   token-expiration    > token-expiration             > --token-expiration (2)
 *   regional STS       -                     sts-regional-endpoints       > --sts-regional-endpoint
 *   STS endpoint       -                     sts-endpoint                 > --sts-endpoint
 *   region             -                     region                       > --aws-default-region
 *   fsGroup (3)        -                     fs-group                     > --fs-group
 *   session name       -                     role-session-name-from-pod   > --role-session-name-from-pod
 *   skip containers    skip-containers     + skip-containers (the lists add up)
 *   include containers include-containers  + include-containers (add up; a skipped container stays skipped)
 *
 * (1) Only with --allow-pod-role-arn, and only a role the ServiceAccount lists in allowed-role-arns
 *     (exact ARNs, comma-separated); otherwise a warning and the ServiceAccount's role.
 * (2) Whichever applies is brought into [--min-token-expiration, --max-token-expiration], with a warning.
 * (3) Only where the Pod's own securityContext sets no fsGroup.
 * No role: the Pod is left alone, or with --region-without-role gets only the region variables.
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
  const roleArn = chooseRole(serviceAccount, pod, options.allowPodRoleArn, warnings);
  if (roleArn === '') return { identity: regionOnly(serviceAccount, pod, options, warnings), warnings };
  if (!ROLE_ARN.test(roleArn)) {
    warnings.push(
      `role ARN "${roleArn}" does not look like arn:<partition>:iam::<12-digit account>:role/<name>; injected as given`,
    );
  }
  return {
    identity: {
      roleArn,
      audience: serviceAccount[ANNOTATION.audience] || options.tokenAudience,
      expirationSeconds: tokenExpiration(serviceAccount, pod, options, warnings),
      tokenMountPath: options.tokenMountPath,
      regionalSts: flagAnnotation(
        serviceAccount,
        'stsRegionalEndpoints',
        options.stsRegionalEndpoint,
        warnings,
      ),
      stsEndpoint: stsEndpoint(serviceAccount, options.stsEndpoint, warnings),
      region: region(serviceAccount, options.awsDefaultRegion, warnings),
      ...containerLists(serviceAccount, pod),
      fsGroup: fsGroup(serviceAccount, options.fsGroup, warnings),
      roleSessionNameFromPod: flagAnnotation(
        serviceAccount,
        'roleSessionNameFromPod',
        options.roleSessionNameFromPod,
        warnings,
      ),
    },
    warnings,
  };
}

/**
 * The ServiceAccount's role, or the one the Pod picks when the flag allows it and the
 * ServiceAccount lists it: the role's trust policy checks only the ServiceAccount, so a Pod must
 * not widen what the ServiceAccount grants without its owner's consent.
 */
function chooseRole(
  serviceAccount: Annotations,
  pod: Annotations,
  allowed: boolean,
  warnings: string[],
): string {
  const own = serviceAccount[ANNOTATION.roleArn] ?? '';
  const asked = pod[ANNOTATION.roleArn] ?? '';
  if (asked === '' || asked === own) return own;
  const instead = own === '' ? 'no role' : "the ServiceAccount's role";
  if (!allowed) {
    warnings.push(
      `Pod annotation role-arn "${asked}" is ignored (--allow-pod-role-arn is off); ${instead} is used`,
    );
  } else if (containerList(serviceAccount[ANNOTATION.allowedRoleArns]).includes(asked)) {
    return asked;
  } else {
    warnings.push(
      `Pod annotation role-arn "${asked}" is not in the ServiceAccount's allowed-role-arns; ${instead} is used`,
    );
  }
  return own;
}

/** For a ServiceAccount without a role: nothing, or only the region with --region-without-role. */
function regionOnly(
  serviceAccount: Annotations,
  pod: Annotations,
  options: MutationOptions,
  warnings: string[],
): Identity | undefined {
  if (!options.regionWithoutRole) return undefined;
  const value = region(serviceAccount, options.awsDefaultRegion, warnings);
  if (value === '') return undefined;
  return {
    roleArn: '',
    audience: options.tokenAudience,
    expirationSeconds: options.tokenExpiration,
    tokenMountPath: options.tokenMountPath,
    regionalSts: false,
    stsEndpoint: '',
    region: value,
    ...containerLists(serviceAccount, pod),
    fsGroup: undefined,
    roleSessionNameFromPod: false,
  };
}

/** The Pod's annotation wins over the ServiceAccount's, which wins over the flag. */
function tokenExpiration(
  serviceAccount: Annotations,
  pod: Annotations,
  options: MutationOptions,
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
    const bounded = boundTokenExpiration(`${source} annotation token-expiration`, seconds, options);
    if (bounded.warning !== undefined) warnings.push(bounded.warning);
    return bounded.seconds;
  }
  return options.tokenExpiration;
}

/** A ServiceAccount annotation "true" or "false" that overrides a boolean flag both ways. */
function flagAnnotation(
  serviceAccount: Annotations,
  name: 'stsRegionalEndpoints' | 'roleSessionNameFromPod',
  fallback: boolean,
  warnings: string[],
): boolean {
  const value = serviceAccount[ANNOTATION[name]];
  if (value === undefined) return fallback;
  const parsed = parseGoBool(value);
  if (parsed !== undefined) return parsed;
  warnings.push(`ServiceAccount annotation ${ANNOTATION[name]} "${value}" is not true or false; ignored`);
  return fallback;
}

function stsEndpoint(serviceAccount: Annotations, fallback: string, warnings: string[]): string {
  const value = serviceAccount[ANNOTATION.stsEndpoint];
  if (value === undefined) return fallback;
  if (isHttpUrl(value)) return value;
  warnings.push(`ServiceAccount annotation sts-endpoint "${value}" is not an http or https URL; ignored`);
  return fallback;
}

function region(serviceAccount: Annotations, fallback: string, warnings: string[]): string {
  const value = serviceAccount[ANNOTATION.region];
  if (value === undefined || value === '') return fallback;
  if (REGION.test(value)) return value;
  warnings.push(`ServiceAccount annotation region "${value}" does not look like an AWS region; ignored`);
  return fallback;
}

function fsGroup(serviceAccount: Annotations, fallback: number | undefined, warnings: string[]) {
  const value = serviceAccount[ANNOTATION.fsGroup];
  if (value === undefined) return fallback;
  const gid = parseGroupId(value);
  if (gid !== undefined) return gid;
  warnings.push(
    `ServiceAccount annotation fs-group "${value}" is not a group ID from 0 to ${MAX_GROUP_ID}; ignored`,
  );
  return fallback;
}

/** skip-containers and include-containers: the ServiceAccount's and the Pod's lists add up. */
function containerLists(
  serviceAccount: Annotations,
  pod: Annotations,
): Pick<Identity, 'skipContainers' | 'includeContainers'> {
  const both = (name: 'skipContainers' | 'includeContainers') =>
    new Set([...containerList(serviceAccount[ANNOTATION[name]]), ...containerList(pod[ANNOTATION[name]])]);
  const include = both('includeContainers');
  return {
    skipContainers: both('skipContainers'),
    includeContainers: include.size > 0 ? include : undefined,
  };
}

function containerList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}
