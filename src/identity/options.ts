// The mutation options (the flags that shape what gets injected), their defaults and their checks,
// in one place: the command line and fixtures' options.json both come through here. Names and
// defaults follow the Go webhook (aws/amazon-eks-pod-identity-webhook) so it can be swapped in.
import {
  DEFAULT_ANNOTATION_PREFIX,
  DEFAULT_CONTAINER_CREDENTIALS_AUDIENCE,
  DEFAULT_CONTAINER_CREDENTIALS_FULL_URI,
  DEFAULT_CONTAINER_CREDENTIALS_MOUNT_PATH,
  DEFAULT_CONTAINER_CREDENTIALS_TOKEN_PATH,
  DEFAULT_CONTAINER_CREDENTIALS_VOLUME_NAME,
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_EXPIRATION,
  DEFAULT_TOKEN_MOUNT_PATH,
} from '../vocabulary.js';

export interface MutationOptions {
  annotationPrefix: string;
  tokenAudience: string;
  tokenMountPath: string;
  tokenExpiration: number;
  awsDefaultRegion: string;
  stsRegionalEndpoint: boolean;
  /** Injected as AWS_ENDPOINT_URL_STS; '' for none. */
  stsEndpoint: string;
  /** Token lifetimes (flag and annotations) are brought into [min, max], with a warning. */
  minTokenExpiration: number;
  maxTokenExpiration: number;
  /** `spec.securityContext.fsGroup` for Pods that get a role and set none; undefined for none. */
  fsGroup: number | undefined;
  /** Inject AWS_ROLE_SESSION_NAME from the Pod's name. */
  roleSessionNameFromPod: boolean;
  /** Inject the region into Pods whose ServiceAccount has no role (only the region variables). */
  regionWithoutRole: boolean;
  /** Honour a Pod's role-arn annotation when its ServiceAccount's allowed-role-arns lists the role. */
  allowPodRoleArn: boolean;
  /** EKS Pod Identity (`--container-credentials-*`), for ServiceAccounts in the container-credentials file. */
  containerCredentialsAudience: string;
  containerCredentialsTokenMountPath: string;
  containerCredentialsTokenVolumeName: string;
  containerCredentialsTokenPath: string;
  containerCredentialsFullUri: string;
  /** A role-arn annotation without `arn:` is a role name (or path/name) in this account and partition. */
  composeRoleArn: boolean;
  /** 12 digits; with composeRoleArn (from --aws-account-id or the instance metadata service). */
  awsAccountId: string;
  /** aws, aws-cn, …; with composeRoleArn (from the region, see partitionOf). */
  awsPartition: string;
}

export const DEFAULT_MUTATION_OPTIONS: Readonly<MutationOptions> = Object.freeze({
  annotationPrefix: DEFAULT_ANNOTATION_PREFIX,
  tokenAudience: DEFAULT_TOKEN_AUDIENCE,
  tokenMountPath: DEFAULT_TOKEN_MOUNT_PATH,
  tokenExpiration: DEFAULT_TOKEN_EXPIRATION,
  awsDefaultRegion: '',
  stsRegionalEndpoint: false,
  stsEndpoint: '',
  minTokenExpiration: 600,
  maxTokenExpiration: 2 ** 32,
  fsGroup: undefined,
  roleSessionNameFromPod: false,
  regionWithoutRole: false,
  allowPodRoleArn: false,
  containerCredentialsAudience: DEFAULT_CONTAINER_CREDENTIALS_AUDIENCE,
  containerCredentialsTokenMountPath: DEFAULT_CONTAINER_CREDENTIALS_MOUNT_PATH,
  containerCredentialsTokenVolumeName: DEFAULT_CONTAINER_CREDENTIALS_VOLUME_NAME,
  containerCredentialsTokenPath: DEFAULT_CONTAINER_CREDENTIALS_TOKEN_PATH,
  containerCredentialsFullUri: DEFAULT_CONTAINER_CREDENTIALS_FULL_URI,
  composeRoleArn: false,
  awsAccountId: '',
  awsPartition: '',
});

/** The JSON type of each option, for options.json (`fsGroup` may be left out: none). */
const OPTION_TYPES: Record<keyof MutationOptions, 'string' | 'number' | 'boolean'> = {
  annotationPrefix: 'string',
  tokenAudience: 'string',
  tokenMountPath: 'string',
  tokenExpiration: 'number',
  awsDefaultRegion: 'string',
  stsRegionalEndpoint: 'boolean',
  stsEndpoint: 'string',
  minTokenExpiration: 'number',
  maxTokenExpiration: 'number',
  fsGroup: 'number',
  roleSessionNameFromPod: 'boolean',
  regionWithoutRole: 'boolean',
  allowPodRoleArn: 'boolean',
  containerCredentialsAudience: 'string',
  containerCredentialsTokenMountPath: 'string',
  containerCredentialsTokenVolumeName: 'string',
  containerCredentialsTokenPath: 'string',
  containerCredentialsFullUri: 'string',
  composeRoleArn: 'boolean',
  awsAccountId: 'string',
  awsPartition: 'string',
};

/** Options that were accepted, and what was changed on the way (a raised expiration). */
export interface ResolvedOptions {
  options: MutationOptions;
  warnings: string[];
}

/** Kubernetes accepts projected token lifetimes from 10 minutes to 2^32 seconds. */
export const MIN_TOKEN_EXPIRATION = 600;
export const MAX_TOKEN_EXPIRATION = 2 ** 32;
/** Kubernetes accepts group IDs from 0 to 2^31 - 1. */
export const MAX_GROUP_ID = 2 ** 31 - 1;

/** The token lifetimes allowed (`--min-token-expiration`, `--max-token-expiration`). */
export interface ExpirationBounds {
  minTokenExpiration: number;
  maxTokenExpiration: number;
}

export class OptionError extends Error {
  override name = 'OptionError';
}

/** An absolute http(s) URL, as the AWS SDKs take for AWS_ENDPOINT_URL_STS. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}

const TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];

/** Go's `strconv.ParseBool`, as the Go webhook reads its flags and sts-regional-endpoints. */
export function parseGoBool(value: string): boolean | undefined {
  if (TRUE.includes(value)) return true;
  if (FALSE.includes(value)) return false;
  return undefined;
}

/** Parses a whole number, rejecting what `Number()` would quietly accept ('', '1e3', '0x10', ' 5'). */
export function parseWholeNumber(value: string): number | undefined {
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

/** A group ID Kubernetes accepts for fsGroup, or undefined. */
export function parseGroupId(value: string): number | undefined {
  const gid = parseWholeNumber(value);
  return gid !== undefined && gid <= MAX_GROUP_ID ? gid : undefined;
}

/**
 * Brings a token lifetime into the bounds (by default what Kubernetes accepts, as the Go webhook
 * does), and says so: `<what> 300 is below the minimum; raised to 600`. The flag and the
 * annotations both use it.
 */
export function boundTokenExpiration(
  what: string,
  seconds: number,
  { minTokenExpiration: min, maxTokenExpiration: max }: ExpirationBounds = DEFAULT_MUTATION_OPTIONS,
): { seconds: number; warning?: string } {
  if (seconds < min) {
    return { seconds: min, warning: `${what} ${seconds} is below the minimum; raised to ${min}` };
  }
  if (seconds > max) {
    return { seconds: max, warning: `${what} ${seconds} is above the maximum; lowered to ${max}` };
  }
  return { seconds };
}

/** The bounds themselves: within what Kubernetes accepts, and in order. */
function checkExpirationBounds({ minTokenExpiration: min, maxTokenExpiration: max }: ExpirationBounds): void {
  for (const [flag, value] of [
    ['--min-token-expiration', min],
    ['--max-token-expiration', max],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < MIN_TOKEN_EXPIRATION || value > MAX_TOKEN_EXPIRATION) {
      throw new OptionError(
        `${flag} must be a whole number of seconds from ${MIN_TOKEN_EXPIRATION} (Kubernetes' minimum) to ${MAX_TOKEN_EXPIRATION}, got ${value}`,
      );
    }
  }
  if (min > max) {
    throw new OptionError(`--min-token-expiration ${min} is above --max-token-expiration ${max}`);
  }
}

/** Defaults filled in, every value checked; names the flag of a value that cannot be used. */
export function resolveMutationOptions(given: Partial<MutationOptions>): ResolvedOptions {
  const options: MutationOptions = { ...DEFAULT_MUTATION_OPTIONS, ...given };
  checkTexts(options);
  checkContainerCredentials(options);
  checkComposeRoleArn(options);
  checkNumbers(options);
  const bounded = boundTokenExpiration('--token-expiration', options.tokenExpiration, options);
  options.tokenExpiration = bounded.seconds;
  return { options, warnings: bounded.warning === undefined ? [] : [bounded.warning] };
}

function checkTexts({ annotationPrefix, tokenMountPath, tokenAudience, stsEndpoint }: MutationOptions): void {
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(annotationPrefix)) {
    throw new OptionError(
      `--annotation-prefix must be a DNS subdomain such as ${DEFAULT_ANNOTATION_PREFIX} (annotation keys are <prefix>/<name>), got "${annotationPrefix}"`,
    );
  }
  if (!tokenMountPath.startsWith('/')) {
    throw new OptionError(`--token-mount-path must be an absolute path, got "${tokenMountPath}"`);
  }
  if (tokenAudience === '') throw new OptionError('--token-audience must not be empty');
  if (stsEndpoint !== '' && !isHttpUrl(stsEndpoint)) {
    throw new OptionError(`--sts-endpoint must be an http or https URL, got "${stsEndpoint}"`);
  }
}

function checkContainerCredentials(options: MutationOptions): void {
  const { containerCredentialsTokenMountPath: mountPath, containerCredentialsTokenPath: tokenPath } = options;
  if (options.containerCredentialsAudience === '') {
    throw new OptionError('--container-credentials-audience must not be empty');
  }
  if (!mountPath.startsWith('/')) {
    throw new OptionError(
      `--container-credentials-token-mount-path must be an absolute path, got "${mountPath}"`,
    );
  }
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(options.containerCredentialsTokenVolumeName)) {
    throw new OptionError(
      `--container-credentials-token-volume-name must be a DNS label (a volume name), got "${options.containerCredentialsTokenVolumeName}"`,
    );
  }
  if (tokenPath === '' || tokenPath.startsWith('/') || tokenPath.split('/').includes('..')) {
    throw new OptionError(
      `--container-credentials-token-path must be a relative path inside the mount, got "${tokenPath}"`,
    );
  }
  if (!isHttpUrl(options.containerCredentialsFullUri)) {
    throw new OptionError(
      `--container-credentials-full-uri must be an http or https URL, got "${options.containerCredentialsFullUri}"`,
    );
  }
}

function checkComposeRoleArn({ composeRoleArn, awsAccountId, awsPartition }: MutationOptions): void {
  if (awsAccountId !== '' && !/^\d{12}$/.test(awsAccountId)) {
    throw new OptionError(`--aws-account-id must be 12 digits, got "${awsAccountId}"`);
  }
  if (awsPartition !== '' && !/^aws[a-z0-9-]*$/.test(awsPartition)) {
    throw new OptionError(`the AWS partition must be aws or aws-<name>, got "${awsPartition}"`);
  }
  if (composeRoleArn && (awsAccountId === '' || awsPartition === '')) {
    throw new OptionError(
      '--compose-role-arn needs the account ID and the partition (from --aws-account-id and --aws-default-region, or the instance metadata service)',
    );
  }
}

/** The AWS partition of a region, as the Go webhook derives it for --compose-role-arn. */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('eusc-')) return 'aws-eusc';
  return 'aws';
}

function checkNumbers(options: MutationOptions): void {
  const { tokenExpiration, fsGroup } = options;
  if (!Number.isSafeInteger(tokenExpiration) || tokenExpiration < 0) {
    throw new OptionError(`--token-expiration must be a whole number of seconds, got ${tokenExpiration}`);
  }
  if (fsGroup !== undefined && (!Number.isSafeInteger(fsGroup) || fsGroup < 0 || fsGroup > MAX_GROUP_ID)) {
    throw new OptionError(`--fs-group must be a group ID from 0 to ${MAX_GROUP_ID}, got ${fsGroup}`);
  }
  checkExpirationBounds(options);
}

/** Reads mutation options from a partial JSON object (options.json), naming the unknown or mistyped key. */
export function mutationOptionsFrom(input: unknown): ResolvedOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new OptionError('mutation options must be a JSON object');
  }
  for (const [key, value] of Object.entries(input)) {
    if (!Object.hasOwn(OPTION_TYPES, key)) throw new OptionError(`unknown mutation option "${key}"`);
    const expected = OPTION_TYPES[key as keyof MutationOptions];
    if (typeof value !== expected) throw new OptionError(`mutation option "${key}" must be a ${expected}`);
  }
  return resolveMutationOptions(input as Partial<MutationOptions>);
}
