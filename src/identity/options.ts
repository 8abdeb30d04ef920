// The mutation options (the flags that shape what gets injected), their defaults and their checks,
// in one place: the command line and fixtures' options.json both come through here. Names and
// defaults follow the Go webhook (aws/amazon-eks-pod-identity-webhook) so it can be swapped in.
import {
  DEFAULT_ANNOTATION_PREFIX,
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
}

export const DEFAULT_MUTATION_OPTIONS: Readonly<MutationOptions> = Object.freeze({
  annotationPrefix: DEFAULT_ANNOTATION_PREFIX,
  tokenAudience: DEFAULT_TOKEN_AUDIENCE,
  tokenMountPath: DEFAULT_TOKEN_MOUNT_PATH,
  tokenExpiration: DEFAULT_TOKEN_EXPIRATION,
  awsDefaultRegion: '',
  stsRegionalEndpoint: false,
  stsEndpoint: '',
});

/** Options that were accepted, and what was changed on the way (a raised expiration). */
export interface ResolvedOptions {
  options: MutationOptions;
  warnings: string[];
}

/** Kubernetes accepts projected token lifetimes from 10 minutes to 2^32 seconds. */
export const MIN_TOKEN_EXPIRATION = 600;
export const MAX_TOKEN_EXPIRATION = 2 ** 32;

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

/** Parses a whole number, rejecting what `Number()` would quietly accept ('', '1e3', '0x10', ' 5'). */
export function parseWholeNumber(value: string): number | undefined {
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

/**
 * Brings a token lifetime into what Kubernetes accepts, as the Go webhook does, and says so:
 * `<what> 300 is below the minimum; raised to 600`. The flag and the annotations both use it.
 */
export function boundTokenExpiration(what: string, seconds: number): { seconds: number; warning?: string } {
  if (seconds < MIN_TOKEN_EXPIRATION) {
    return {
      seconds: MIN_TOKEN_EXPIRATION,
      warning: `${what} ${seconds} is below the minimum; raised to ${MIN_TOKEN_EXPIRATION}`,
    };
  }
  if (seconds > MAX_TOKEN_EXPIRATION) {
    return {
      seconds: MAX_TOKEN_EXPIRATION,
      warning: `${what} ${seconds} is above the maximum; lowered to ${MAX_TOKEN_EXPIRATION}`,
    };
  }
  return { seconds };
}

/** Defaults filled in, every value checked; names the flag of a value that cannot be used. */
export function resolveMutationOptions(given: Partial<MutationOptions>): ResolvedOptions {
  const options: MutationOptions = { ...DEFAULT_MUTATION_OPTIONS, ...given };
  const { annotationPrefix, tokenMountPath, tokenExpiration, tokenAudience } = options;
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(annotationPrefix)) {
    throw new OptionError(
      `--annotation-prefix must be a DNS subdomain such as ${DEFAULT_ANNOTATION_PREFIX} (annotation keys are <prefix>/<name>), got "${annotationPrefix}"`,
    );
  }
  if (!tokenMountPath.startsWith('/')) {
    throw new OptionError(`--token-mount-path must be an absolute path, got "${tokenMountPath}"`);
  }
  if (tokenAudience === '') throw new OptionError('--token-audience must not be empty');
  if (options.stsEndpoint !== '' && !isHttpUrl(options.stsEndpoint)) {
    throw new OptionError(`--sts-endpoint must be an http or https URL, got "${options.stsEndpoint}"`);
  }
  if (!Number.isSafeInteger(tokenExpiration) || tokenExpiration < 0) {
    throw new OptionError(`--token-expiration must be a whole number of seconds, got ${tokenExpiration}`);
  }
  const bounded = boundTokenExpiration('--token-expiration', tokenExpiration);
  options.tokenExpiration = bounded.seconds;
  return { options, warnings: bounded.warning === undefined ? [] : [bounded.warning] };
}

/** Reads mutation options from a partial JSON object (options.json), naming the unknown or mistyped key. */
export function mutationOptionsFrom(input: unknown): ResolvedOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new OptionError('mutation options must be a JSON object');
  }
  for (const [key, value] of Object.entries(input)) {
    if (!(key in DEFAULT_MUTATION_OPTIONS)) throw new OptionError(`unknown mutation option "${key}"`);
    const expected = typeof DEFAULT_MUTATION_OPTIONS[key as keyof MutationOptions];
    if (typeof value !== expected) throw new OptionError(`mutation option "${key}" must be a ${expected}`);
  }
  return resolveMutationOptions(input as Partial<MutationOptions>);
}
