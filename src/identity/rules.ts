// Annotations → Identity. The rules for which annotation wins, and every warning about an
// annotation, live here; the mutation itself never reads an annotation.
import { createHash } from 'node:crypto';
import {
  ANNOTATION,
  CONTAINER_CREDENTIALS_MIN_JITTERED_EXPIRATION,
  DEFAULT_TOKEN_EXPIRATION,
  TOKEN_FILE,
  TOKEN_VOLUME_NAME,
} from '../vocabulary.js';
import {
  boundTokenExpiration,
  isHttpUrl,
  MAX_GROUP_ID,
  type MutationOptions,
  parseGoBool,
  parseGroupId,
  parseWholeNumber,
} from './options.js';
import type { MappedIdentity } from './role-mapping.js';

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
  /** The projected token volume's name and its file inside the mount. */
  tokenVolumeName: string;
  tokenPath: string;
  /**
   * EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_FULL_URI, injected with
   * AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE instead of the role variables, and the Pod label;
   * '' for IRSA (web identity).
   */
  containerCredentialsFullUri: string;
}

export interface IdentityResult {
  /** Undefined when the ServiceAccount asks for no role: the Pod is left alone. */
  identity: Identity | undefined;
  warnings: string[];
}

export interface RawAnnotations {
  serviceAccount: Annotations | undefined;
  pod: Annotations | undefined;
  /** The `--watch-config-map` entry of the ServiceAccount, if one matches (see role-mapping.ts). */
  mapped?: MappedIdentity | undefined;
  /** The ServiceAccount is in the `--watch-container-credentials-config` file: EKS Pod Identity. */
  containerCredentials?: boolean;
  /**
   * What the container-credentials expiration jitter is derived from, so that it is the same for
   * the same Pod and review (namespace, name or generateName, uid): see jitteredExpiration.
   */
  jitterKey?: string;
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
 * Precedence, left to right: Pod > ServiceAccount > ConfigMap entry (4) > flag. A value that
 * cannot be used is warned about and the next source applies.
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
 * Container credentials (EKS Pod Identity, `raw.containerCredentials`): win over any role; audience,
 *     mount, volume and token file from the --container-credentials-* flags; an expiration of 86400
 *     is jittered into [79200, 86400] (jitteredExpiration); see containerCredentialsIdentity.
 * --compose-role-arn: the chosen role-arn, when it has no `arn:`, is composed (composeRoleArn).
 *
 * (4) `--watch-config-map`: the entry's RoleARN, Audience (when not empty), UseRegionalSTS and
 *     TokenExpiration (when not 0) sit between the ServiceAccount annotations and the flags, and
 *     apply only when the ServiceAccount has no role-arn annotation: an annotated role is never
 *     mixed with an entry's settings (as in the Go webhook, whose entries are all-or-nothing).
 */
export function resolveIdentity(raw: RawAnnotations, options: MutationOptions): IdentityResult {
  const prefix = options.annotationPrefix;
  const serviceAccount = annotationsUnder(prefix, raw.serviceAccount);
  const pod = annotationsUnder(prefix, raw.pod);
  const warnings = [
    ...annotationTypos(prefix, 'ServiceAccount', raw.serviceAccount),
    ...annotationTypos(prefix, 'Pod', raw.pod),
  ];
  const mapped = serviceAccount[ANNOTATION.roleArn] ? undefined : raw.mapped;
  if (mapped !== undefined) options = mappedOptions(mapped, options, warnings);
  if (raw.containerCredentials === true) {
    return { identity: containerCredentialsIdentity(raw, serviceAccount, pod, options, warnings), warnings };
  }
  let roleArn = chooseRole(
    mapped === undefined ? serviceAccount : { ...serviceAccount, [ANNOTATION.roleArn]: mapped.roleArn },
    pod,
    options.allowPodRoleArn,
    warnings,
  );
  if (roleArn === '') return { identity: regionOnly(serviceAccount, pod, options, warnings), warnings };
  if (options.composeRoleArn) roleArn = composeRoleArn(roleArn, options);
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
      tokenVolumeName: TOKEN_VOLUME_NAME,
      tokenPath: TOKEN_FILE,
      containerCredentialsFullUri: '',
    },
    warnings,
  };
}

/**
 * `--compose-role-arn`, as the Go webhook: a role-arn without `arn:` is a role name, or a path and
 * name (`team/app` → `role/team/app`), in the account and partition of the webhook.
 */
export function composeRoleArn(
  value: string,
  { awsPartition, awsAccountId }: Pick<MutationOptions, 'awsPartition' | 'awsAccountId'>,
): string {
  if (value.includes('arn:')) return value;
  return `arn:${awsPartition}:iam::${awsAccountId}:role/${value.replace(/^\//, '')}`;
}

/**
 * EKS Pod Identity, as the Go webhook: it wins over any role (the role-arn annotations are not
 * read); its own audience, mount, volume and token file come from the --container-credentials-*
 * flags; regional STS, region, token expiration, fsGroup and the container lists apply as for IRSA.
 */
function containerCredentialsIdentity(
  raw: RawAnnotations,
  serviceAccount: Annotations,
  pod: Annotations,
  options: MutationOptions,
  warnings: string[],
): Identity {
  const expiration = tokenExpiration(serviceAccount, pod, options, warnings);
  return {
    roleArn: '',
    audience: options.containerCredentialsAudience,
    expirationSeconds:
      expiration === DEFAULT_TOKEN_EXPIRATION ? jitteredExpiration(raw.jitterKey ?? '') : expiration,
    tokenMountPath: options.containerCredentialsTokenMountPath,
    regionalSts: flagAnnotation(
      serviceAccount,
      'stsRegionalEndpoints',
      options.stsRegionalEndpoint,
      warnings,
    ),
    stsEndpoint: '',
    region: region(serviceAccount, options.awsDefaultRegion, warnings),
    ...containerLists(serviceAccount, pod),
    fsGroup: fsGroup(serviceAccount, options.fsGroup, warnings),
    roleSessionNameFromPod: false,
    tokenVolumeName: options.containerCredentialsTokenVolumeName,
    tokenPath: options.containerCredentialsTokenPath,
    containerCredentialsFullUri: options.containerCredentialsFullUri,
  };
}

/**
 * A token lifetime in [79200, 86400] so that a fleet's tokens do not all refresh together, as the
 * Go webhook does for the default 86400 in container-credentials mode. The Go webhook draws it at
 * random; here it is derived from a hash of `key` (the Pod's namespace, name or generateName, and
 * uid), so the same review always gets the same answer.
 */
export function jitteredExpiration(key: string): number {
  const span = DEFAULT_TOKEN_EXPIRATION - CONTAINER_CREDENTIALS_MIN_JITTERED_EXPIRATION + 1;
  const hash = createHash('sha256').update(key).digest().readUInt32BE(0);
  return CONTAINER_CREDENTIALS_MIN_JITTERED_EXPIRATION + (hash % span);
}

/** The flags with a ConfigMap entry's settings over them: the annotations still win over both. */
function mappedOptions(
  mapped: MappedIdentity,
  options: MutationOptions,
  warnings: string[],
): MutationOptions {
  const settings = { ...options };
  if (mapped.audience !== undefined) settings.tokenAudience = mapped.audience;
  if (mapped.regionalSts !== undefined) settings.stsRegionalEndpoint = mapped.regionalSts;
  if (mapped.tokenExpiration !== undefined) {
    const what = `ConfigMap entry "${mapped.key}" TokenExpiration`;
    const bounded = boundTokenExpiration(what, mapped.tokenExpiration, options);
    if (bounded.warning !== undefined) warnings.push(bounded.warning);
    settings.tokenExpiration = bounded.seconds;
  }
  return settings;
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
    tokenVolumeName: TOKEN_VOLUME_NAME,
    tokenPath: TOKEN_FILE,
    containerCredentialsFullUri: '',
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
