// Every mutation flag, its default and its validation, in one place. Names and defaults follow the
// Go webhook (aws/amazon-eks-pod-identity-webhook) so it can be swapped in.

export interface MutationOptions {
  annotationPrefix: string;
  tokenAudience: string;
  tokenMountPath: string;
  tokenExpiration: number;
  awsDefaultRegion: string;
  stsRegionalEndpoint: boolean;
}

export const DEFAULT_MUTATION_OPTIONS: Readonly<MutationOptions> = Object.freeze({
  annotationPrefix: 'eks.amazonaws.com',
  tokenAudience: 'sts.amazonaws.com',
  tokenMountPath: '/var/run/secrets/eks.amazonaws.com/serviceaccount',
  tokenExpiration: 86400,
  awsDefaultRegion: '',
  stsRegionalEndpoint: false,
});

/** Kubernetes accepts projected token lifetimes from 10 minutes to 2^32 seconds. */
export const MIN_TOKEN_EXPIRATION = 600;
export const MAX_TOKEN_EXPIRATION = 2 ** 32;

/**
 * Brings a token lifetime into what Kubernetes accepts, as the Go webhook does, and says so:
 * `<what> 300 is below the minimum; raised to 600`.
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

export class OptionError extends Error {
  override name = 'OptionError';
}

/** Parses a whole number, rejecting what `Number()` would quietly accept ('', '1e3', '0x10', ' 5'). */
export function parseWholeNumber(value: string): number | undefined {
  return /^\d+$/.test(value) ? Number(value) : undefined;
}

export function parseBoolean(flag: string, value: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw new OptionError(`${flag} must be true or false, got "${value}"`);
}

export function parseInteger(flag: string, value: string, min: number, max: number): number {
  const n = parseWholeNumber(value);
  if (n === undefined || n < min || n > max) {
    throw new OptionError(`${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  }
  return n;
}

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** A Go duration (`time.ParseDuration`), as the Go webhook's flags take: `0`, `500ms`, `1m30s`. In ms. */
export function parseDuration(flag: string, value: string): number {
  if (value === '0') return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/gy;
  let ms = 0;
  let matched = 0;
  for (let match = part.exec(value); match !== null; match = part.exec(value)) {
    ms += Number(match[1]) * DURATION_UNITS_MS[match[2]!]!;
    matched = part.lastIndex;
  }
  if (value === '' || matched !== value.length) {
    throw new OptionError(`${flag} must be a duration such as 0, 500ms, 2s or 1m30s, got "${value}"`);
  }
  return ms;
}

/** A duration no longer than `maxMs`, named in the error as `maxText`. */
export function parseBoundedDuration(flag: string, value: string, maxMs: number, maxText: string): number {
  const ms = parseDuration(flag, value);
  if (ms > maxMs) throw new OptionError(`${flag} must be at most ${maxText}, got "${value}"`);
  return ms;
}

/** Validates a complete set of mutation options, e.g. one read from a fixture's options.json. */
export function validateMutationOptions(options: MutationOptions): MutationOptions {
  const { annotationPrefix, tokenMountPath, tokenExpiration, tokenAudience } = options;
  if (!/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(annotationPrefix)) {
    throw new OptionError(
      `--annotation-prefix must be a DNS subdomain such as eks.amazonaws.com (annotation keys are <prefix>/<name>), got "${annotationPrefix}"`,
    );
  }
  if (!tokenMountPath.startsWith('/')) {
    throw new OptionError(`--token-mount-path must be an absolute path, got "${tokenMountPath}"`);
  }
  if (tokenAudience === '') throw new OptionError('--token-audience must not be empty');
  if (
    !Number.isInteger(tokenExpiration) ||
    tokenExpiration < MIN_TOKEN_EXPIRATION ||
    tokenExpiration > MAX_TOKEN_EXPIRATION
  ) {
    throw new OptionError(
      `--token-expiration must be a whole number from ${MIN_TOKEN_EXPIRATION} to ${MAX_TOKEN_EXPIRATION}, got ${tokenExpiration}`,
    );
  }
  return options;
}

/** Reads mutation options from a partial object (options.json), naming the unknown or mistyped key. */
export function mutationOptionsFrom(input: unknown): MutationOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new OptionError('mutation options must be a JSON object');
  }
  const options: MutationOptions = { ...DEFAULT_MUTATION_OPTIONS };
  for (const [key, value] of Object.entries(input)) {
    if (!(key in DEFAULT_MUTATION_OPTIONS)) throw new OptionError(`unknown mutation option "${key}"`);
    const expected = typeof DEFAULT_MUTATION_OPTIONS[key as keyof MutationOptions];
    if (typeof value !== expected) throw new OptionError(`mutation option "${key}" must be a ${expected}`);
    Object.assign(options, { [key]: value });
  }
  return validateMutationOptions(options);
}
