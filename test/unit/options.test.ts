// The mutation options: defaults, checks and the bounded token expiration, for the command line
// (resolveMutationOptions) and for fixtures' options.json (mutationOptionsFrom).
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MUTATION_OPTIONS,
  MAX_TOKEN_EXPIRATION,
  MIN_TOKEN_EXPIRATION,
  mutationOptionsFrom,
  OptionError,
  parseWholeNumber,
  resolveMutationOptions,
  type MutationOptions,
} from '../../src/identity/options.js';
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
} from '../../src/vocabulary.js';

describe('resolveMutationOptions', () => {
  it('fills every default from the vocabulary', () => {
    expect(resolveMutationOptions({})).toEqual({
      options: {
        annotationPrefix: DEFAULT_ANNOTATION_PREFIX,
        tokenAudience: DEFAULT_TOKEN_AUDIENCE,
        tokenMountPath: DEFAULT_TOKEN_MOUNT_PATH,
        tokenExpiration: DEFAULT_TOKEN_EXPIRATION,
        awsDefaultRegion: '',
        stsRegionalEndpoint: false,
        stsEndpoint: '',
        minTokenExpiration: MIN_TOKEN_EXPIRATION,
        maxTokenExpiration: MAX_TOKEN_EXPIRATION,
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
      },
      warnings: [],
    });
  });

  it('keeps what is given and leaves the defaults alone', () => {
    const given: Partial<MutationOptions> = { awsDefaultRegion: 'eu-west-1', tokenExpiration: 3600 };
    const { options, warnings } = resolveMutationOptions(given);
    expect(options).toEqual({ ...DEFAULT_MUTATION_OPTIONS, ...given });
    expect(warnings).toEqual([]);
    expect(options).not.toBe(DEFAULT_MUTATION_OPTIONS);
    expect(DEFAULT_MUTATION_OPTIONS.tokenExpiration).toBe(DEFAULT_TOKEN_EXPIRATION);
  });

  it.each([
    ['the minimum', MIN_TOKEN_EXPIRATION],
    ['the maximum', MAX_TOKEN_EXPIRATION],
  ])('accepts a token expiration of %s as it is', (_case, seconds) => {
    expect(resolveMutationOptions({ tokenExpiration: seconds })).toEqual({
      options: { ...DEFAULT_MUTATION_OPTIONS, tokenExpiration: seconds },
      warnings: [],
    });
  });

  it.each([
    ['raises', 300, MIN_TOKEN_EXPIRATION, '--token-expiration 300 is below the minimum; raised to 600'],
    ['raises', 0, MIN_TOKEN_EXPIRATION, '--token-expiration 0 is below the minimum; raised to 600'],
    [
      'lowers',
      MAX_TOKEN_EXPIRATION + 1,
      MAX_TOKEN_EXPIRATION,
      '--token-expiration 4294967297 is above the maximum; lowered to 4294967296',
    ],
  ])('%s a token expiration of %d to %d, with a warning', (_verb, given, seconds, warning) => {
    expect(resolveMutationOptions({ tokenExpiration: given })).toEqual({
      options: { ...DEFAULT_MUTATION_OPTIONS, tokenExpiration: seconds },
      warnings: [warning],
    });
  });

  it.each<[string, Partial<MutationOptions>, number, string[]]>([
    [
      'raises the flag to --min-token-expiration',
      { tokenExpiration: 1800, minTokenExpiration: 3600 },
      3600,
      ['--token-expiration 1800 is below the minimum; raised to 3600'],
    ],
    [
      'lowers the flag to --max-token-expiration',
      { tokenExpiration: 86400, maxTokenExpiration: 43200 },
      43200,
      ['--token-expiration 86400 is above the maximum; lowered to 43200'],
    ],
    ['keeps a value between the bounds', { minTokenExpiration: 3600, maxTokenExpiration: 86400 }, 86400, []],
    [
      'accepts equal bounds',
      { minTokenExpiration: 7200, maxTokenExpiration: 7200, tokenExpiration: 7200 },
      7200,
      [],
    ],
  ])('token expiration bounds: %s', (_case, given, seconds, warnings) => {
    expect(resolveMutationOptions(given)).toEqual({
      options: { ...DEFAULT_MUTATION_OPTIONS, ...given, tokenExpiration: seconds },
      warnings,
    });
  });

  it.each<[string, Partial<MutationOptions>, string]>([
    [
      'a prefix with a slash',
      { annotationPrefix: 'example.com/iam' },
      `--annotation-prefix must be a DNS subdomain such as ${DEFAULT_ANNOTATION_PREFIX} (annotation keys are <prefix>/<name>), got "example.com/iam"`,
    ],
    [
      'an upper-case prefix',
      { annotationPrefix: 'IAM.example.com' },
      `--annotation-prefix must be a DNS subdomain such as ${DEFAULT_ANNOTATION_PREFIX} (annotation keys are <prefix>/<name>), got "IAM.example.com"`,
    ],
    [
      'an empty prefix',
      { annotationPrefix: '' },
      `--annotation-prefix must be a DNS subdomain such as ${DEFAULT_ANNOTATION_PREFIX} (annotation keys are <prefix>/<name>), got ""`,
    ],
    [
      'a relative mount path',
      { tokenMountPath: 'var/run/secrets' },
      '--token-mount-path must be an absolute path, got "var/run/secrets"',
    ],
    ['an empty audience', { tokenAudience: '' }, '--token-audience must not be empty'],
    [
      'an STS endpoint without a scheme',
      { stsEndpoint: 'sts.local:8080' },
      '--sts-endpoint must be an http or https URL, got "sts.local:8080"',
    ],
    [
      'an STS endpoint of another scheme',
      { stsEndpoint: 'ftp://sts' },
      '--sts-endpoint must be an http or https URL, got "ftp://sts"',
    ],
    [
      'a fractional expiration',
      { tokenExpiration: 600.5 },
      '--token-expiration must be a whole number of seconds, got 600.5',
    ],
    [
      'a negative expiration',
      { tokenExpiration: -1 },
      '--token-expiration must be a whole number of seconds, got -1',
    ],
    [
      'a minimum below Kubernetes’ 600',
      { minTokenExpiration: 599 },
      "--min-token-expiration must be a whole number of seconds from 600 (Kubernetes' minimum) to 4294967296, got 599",
    ],
    [
      'a maximum below 600',
      { maxTokenExpiration: 300 },
      "--max-token-expiration must be a whole number of seconds from 600 (Kubernetes' minimum) to 4294967296, got 300",
    ],
    [
      'a maximum above Kubernetes’ 2^32',
      { maxTokenExpiration: MAX_TOKEN_EXPIRATION + 1 },
      "--max-token-expiration must be a whole number of seconds from 600 (Kubernetes' minimum) to 4294967296, got 4294967297",
    ],
    [
      'a minimum above the maximum',
      { minTokenExpiration: 7200, maxTokenExpiration: 3600 },
      '--min-token-expiration 7200 is above --max-token-expiration 3600',
    ],
    ['a negative fsGroup', { fsGroup: -1 }, '--fs-group must be a group ID from 0 to 2147483647, got -1'],
    [
      'an fsGroup above 2^31 - 1',
      { fsGroup: 2 ** 31 },
      '--fs-group must be a group ID from 0 to 2147483647, got 2147483648',
    ],
  ])('rejects %s, naming the flag', (_case, given, message) => {
    expect(() => resolveMutationOptions(given)).toThrow(new OptionError(message));
  });
});

describe('mutationOptionsFrom (options.json)', () => {
  it('fills defaults', () => {
    expect(mutationOptionsFrom({})).toEqual({ options: DEFAULT_MUTATION_OPTIONS, warnings: [] });
    expect(mutationOptionsFrom({ awsDefaultRegion: 'eu-west-1' })).toEqual({
      options: { ...DEFAULT_MUTATION_OPTIONS, awsDefaultRegion: 'eu-west-1' },
      warnings: [],
    });
  });

  it('raises a short expiration with the same warning as the flag', () => {
    expect(mutationOptionsFrom({ tokenExpiration: 300 })).toEqual({
      options: { ...DEFAULT_MUTATION_OPTIONS, tokenExpiration: MIN_TOKEN_EXPIRATION },
      warnings: ['--token-expiration 300 is below the minimum; raised to 600'],
    });
  });

  it.each([
    ['an unknown key', { region: 'x' }, 'unknown mutation option "region"'],
    ['an inherited key', { toString: 'x' }, 'unknown mutation option "toString"'],
    ['a string for fsGroup', { fsGroup: '2000' }, 'mutation option "fsGroup" must be a number'],
    [
      'a string for a number',
      { tokenExpiration: '600' },
      'mutation option "tokenExpiration" must be a number',
    ],
    [
      'a string for a boolean',
      { stsRegionalEndpoint: 'true' },
      'mutation option "stsRegionalEndpoint" must be a boolean',
    ],
    ['null for a string', { tokenAudience: null }, 'mutation option "tokenAudience" must be a string'],
    ['an array', [], 'mutation options must be a JSON object'],
    ['null', null, 'mutation options must be a JSON object'],
    ['a string', 'x', 'mutation options must be a JSON object'],
  ])('rejects %s, naming it', (_case, input: unknown, message) => {
    expect(() => mutationOptionsFrom(input)).toThrow(new OptionError(message));
  });

  it('checks values as the flags are checked', () => {
    expect(() => mutationOptionsFrom({ tokenMountPath: 'relative' })).toThrow(
      new OptionError('--token-mount-path must be an absolute path, got "relative"'),
    );
  });
});

describe('parseWholeNumber', () => {
  it.each([
    ['0', 0],
    ['600', 600],
    ['4294967296', 4294967296],
  ])('reads %j', (value, n) => {
    expect(parseWholeNumber(value)).toBe(n);
  });

  it.each(['', ' 5', '5 ', '-5', '+5', '1e3', '0x10', '1.5', '1_000'])('rejects %j', (value) => {
    expect(parseWholeNumber(value)).toBeUndefined();
  });
});
