// EKS Pod Identity ("container credentials", `--watch-container-credentials-config`): the rules, the
// mutation, the file and its reload, and the `mutate` command reading it.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OptionError, resolveMutationOptions, type MutationOptions } from '../../src/identity/options.js';
import { jitteredExpiration, resolveIdentity, type Annotations } from '../../src/identity/rules.js';
import { injectIdentity } from '../../src/mutation/inject.js';
import {
  ContainerCredentialsConfig,
  parseContainerCredentials,
  watchContainerCredentials,
} from '../../src/serviceaccounts/container-credentials-source.js';
import {
  CONTAINER_CREDENTIALS_MIN_JITTERED_EXPIRATION,
  DEFAULT_CONTAINER_CREDENTIALS_AUDIENCE,
  DEFAULT_CONTAINER_CREDENTIALS_FULL_URI,
  DEFAULT_CONTAINER_CREDENTIALS_MOUNT_PATH,
  DEFAULT_CONTAINER_CREDENTIALS_TOKEN_PATH,
  DEFAULT_CONTAINER_CREDENTIALS_VOLUME_NAME,
  DEFAULT_TOKEN_EXPIRATION,
  ENV,
  POD_IDENTITY_LABEL,
} from '../../src/vocabulary.js';
import { fixturesNamed } from '../support/fixtures.js';
import { waitFor } from '../support/wait.js';

const until = (what: string, condition: () => boolean) =>
  waitFor(what, () => (condition() ? true : undefined), { timeoutMs: 5000, intervalMs: 20 });

const ARN = 'arn:aws:iam::111122223333:role/app';
const options = (given: Partial<MutationOptions> = {}): MutationOptions =>
  resolveMutationOptions(given).options;
const prefixed = (values: Record<string, string>): Annotations =>
  Object.fromEntries(Object.entries(values).map(([k, v]) => [`eks.amazonaws.com/${k}`, v]));
const resolve = (
  serviceAccount: Record<string, string>,
  pod: Record<string, string> = {},
  given: Partial<MutationOptions> = {},
) =>
  resolveIdentity(
    {
      serviceAccount: prefixed(serviceAccount),
      pod: prefixed(pod),
      containerCredentials: true,
      jitterKey: 'ns/pod-/uid',
    },
    options(given),
  );

describe('container credentials: the rules', () => {
  it('win over the role-arn annotation, with their own audience, mount, volume and token file', () => {
    const { identity, warnings } = resolve({ 'role-arn': ARN, audience: 'ignored' });
    expect(warnings).toEqual([]);
    expect(identity).toMatchObject({
      roleArn: '',
      audience: DEFAULT_CONTAINER_CREDENTIALS_AUDIENCE,
      tokenMountPath: DEFAULT_CONTAINER_CREDENTIALS_MOUNT_PATH,
      tokenVolumeName: DEFAULT_CONTAINER_CREDENTIALS_VOLUME_NAME,
      tokenPath: DEFAULT_CONTAINER_CREDENTIALS_TOKEN_PATH,
      containerCredentialsFullUri: DEFAULT_CONTAINER_CREDENTIALS_FULL_URI,
      stsEndpoint: '',
      roleSessionNameFromPod: false,
    });
  });

  it('apply to a ServiceAccount without any annotation', () => {
    expect(resolve({}).identity?.containerCredentialsFullUri).toBe(DEFAULT_CONTAINER_CREDENTIALS_FULL_URI);
  });

  it.each<[string, Record<string, string>, Record<string, string>, Partial<MutationOptions>, object]>([
    ['regional STS from the annotation', { 'sts-regional-endpoints': 'true' }, {}, {}, { regionalSts: true }],
    ['regional STS from the flag', {}, {}, { stsRegionalEndpoint: true }, { regionalSts: true }],
    ['the region flag', {}, {}, { awsDefaultRegion: 'eu-west-1' }, { region: 'eu-west-1' }],
    ['the region annotation', { region: 'eu-north-1' }, {}, {}, { region: 'eu-north-1' }],
    ['fs-group', { 'fs-group': '1000' }, {}, {}, { fsGroup: 1000 }],
    [
      'skip-containers of the Pod',
      {},
      { 'skip-containers': 'sidecar' },
      {},
      { skipContainers: new Set(['sidecar']) },
    ],
    [
      'the Pod token-expiration, not jittered',
      {},
      { 'token-expiration': '3600' },
      {},
      { expirationSeconds: 3600 },
    ],
    [
      'the ServiceAccount token-expiration',
      { 'token-expiration': '7200' },
      {},
      {},
      { expirationSeconds: 7200 },
    ],
    ['the expiration flag', {}, {}, { tokenExpiration: 43200 }, { expirationSeconds: 43200 }],
    [
      'the --container-credentials-* flags',
      {},
      {},
      {
        containerCredentialsAudience: 'aud',
        containerCredentialsTokenMountPath: '/pi',
        containerCredentialsTokenVolumeName: 'pi-token',
        containerCredentialsTokenPath: 'tok',
        containerCredentialsFullUri: 'http://[fd00:ec2::23]/v1/credentials',
      },
      {
        audience: 'aud',
        tokenMountPath: '/pi',
        tokenVolumeName: 'pi-token',
        tokenPath: 'tok',
        containerCredentialsFullUri: 'http://[fd00:ec2::23]/v1/credentials',
      },
    ],
    ['no STS endpoint', { 'sts-endpoint': 'https://sts.example.com' }, {}, {}, { stsEndpoint: '' }],
    [
      'no role session name',
      { 'role-session-name-from-pod': 'true' },
      {},
      {},
      { roleSessionNameFromPod: false },
    ],
  ])('take %s', (_case, serviceAccount, pod, given, expected) => {
    expect(resolve(serviceAccount, pod, given).identity).toMatchObject(expected);
  });

  it('jitter the default expiration 86400 into [79200, 86400], the same for the same key', () => {
    const { identity } = resolve({});
    expect(identity?.expirationSeconds).toBe(jitteredExpiration('ns/pod-/uid'));
    expect(identity?.expirationSeconds).not.toBe(DEFAULT_TOKEN_EXPIRATION);
    const values = Array.from({ length: 2000 }, (_, i) => jitteredExpiration(`ns/app-/${i}`));
    expect(Math.min(...values)).toBeGreaterThanOrEqual(CONTAINER_CREDENTIALS_MIN_JITTERED_EXPIRATION);
    expect(Math.max(...values)).toBeLessThanOrEqual(DEFAULT_TOKEN_EXPIRATION);
    expect(new Set(values).size).toBeGreaterThan(1500);
    expect(jitteredExpiration('ns/app-/1')).toBe(jitteredExpiration('ns/app-/1'));
  });

  it('leave IRSA alone for a ServiceAccount not in the file', () => {
    const { identity } = resolveIdentity(
      { serviceAccount: prefixed({ 'role-arn': ARN }), pod: {}, containerCredentials: false },
      options(),
    );
    expect(identity).toMatchObject({ roleArn: ARN, containerCredentialsFullUri: '' });
  });

  it.each<[string, Partial<MutationOptions>, RegExp]>([
    ['an empty audience', { containerCredentialsAudience: '' }, /--container-credentials-audience/],
    [
      'a relative mount path',
      { containerCredentialsTokenMountPath: 'x' },
      /--container-credentials-token-mount-path/,
    ],
    [
      'a volume name that is no DNS label',
      { containerCredentialsTokenVolumeName: 'A_b' },
      /--container-credentials-token-volume-name/,
    ],
    ['an absolute token path', { containerCredentialsTokenPath: '/t' }, /--container-credentials-token-path/],
    [
      'a token path leaving the mount',
      { containerCredentialsTokenPath: '../t' },
      /--container-credentials-token-path/,
    ],
    [
      'a full URI that is no URL',
      { containerCredentialsFullUri: '169.254.170.23' },
      /--container-credentials-full-uri/,
    ],
  ])('refuse %s', (_case, given, message) => {
    expect(() => resolveMutationOptions(given)).toThrow(OptionError);
    expect(() => resolveMutationOptions(given)).toThrow(message);
  });
});

describe('container credentials: the mutation', () => {
  const pod = (env?: Array<{ name: string; value: string }>): V1Pod => ({
    metadata: { name: 'p', labels: { app: 'a' } },
    spec: { containers: [{ name: 'app', ...(env && { env }) }] },
  });

  it('adds both variables, the mount, the volume and the label', () => {
    const { identity } = resolve({}, { 'token-expiration': '3600' });
    const { pod: mutated, warnings } = injectIdentity(pod(), identity!);
    expect(warnings).toEqual([]);
    expect(mutated.metadata?.labels).toEqual({ app: 'a', [POD_IDENTITY_LABEL]: 'enabled' });
    const file = `${DEFAULT_CONTAINER_CREDENTIALS_MOUNT_PATH}/${DEFAULT_CONTAINER_CREDENTIALS_TOKEN_PATH}`;
    expect(mutated.spec?.containers[0]?.env).toEqual([
      { name: ENV.containerCredentialsFullUri, value: DEFAULT_CONTAINER_CREDENTIALS_FULL_URI },
      { name: ENV.containerAuthorizationTokenFile, value: file },
    ]);
    expect(mutated.spec?.containers[0]?.volumeMounts).toEqual([
      {
        name: DEFAULT_CONTAINER_CREDENTIALS_VOLUME_NAME,
        readOnly: true,
        mountPath: DEFAULT_CONTAINER_CREDENTIALS_MOUNT_PATH,
      },
    ]);
    expect(mutated.spec?.volumes).toEqual([
      {
        name: DEFAULT_CONTAINER_CREDENTIALS_VOLUME_NAME,
        projected: {
          sources: [
            {
              serviceAccountToken: {
                audience: DEFAULT_CONTAINER_CREDENTIALS_AUDIENCE,
                expirationSeconds: 3600,
                path: DEFAULT_CONTAINER_CREDENTIALS_TOKEN_PATH,
              },
            },
          ],
        },
      },
    ]);
  });

  it.each([ENV.containerCredentialsFullUri, ENV.containerAuthorizationTokenFile])(
    'warns and adds neither variable when a container sets %s alone',
    (name) => {
      const { identity } = resolve({});
      const { pod: mutated, warnings } = injectIdentity(pod([{ name, value: 'x' }]), identity!);
      expect(mutated.spec?.containers[0]?.env).toEqual([{ name, value: 'x' }]);
      expect(warnings).toEqual([
        `container "app" already sets ${name} alone; ${ENV.containerCredentialsFullUri} and ${ENV.containerAuthorizationTokenFile} not injected`,
      ]);
    },
  );

  it('uses a C: path on Windows', () => {
    const { identity } = resolve({});
    const windows = { ...pod(), spec: { ...pod().spec!, nodeSelector: { 'kubernetes.io/os': 'windows' } } };
    const env = injectIdentity(windows, identity!).pod.spec?.containers[0]?.env;
    expect(env?.[1]?.value).toBe(
      'C:\\var\\run\\secrets\\pods.eks.amazonaws.com\\serviceaccount\\eks-pod-identity-token',
    );
  });
});

describe('container credentials: the file', () => {
  it.each<[string, string, string[]]>([
    [
      'two identities',
      '{"identities":[{"namespace":"a","serviceAccount":"x"},{"namespace":"b","serviceAccount":"y"}]}',
      ['a/x', 'b/y'],
    ],
    ['an empty file (as the Go webhook: no identities)', '  \n', []],
    ['no identities key', '{}', []],
    [
      'unknown keys, ignored as Go does',
      '{"identities":[{"namespace":"a","serviceAccount":"x","role":"r"}],"v":1}',
      ['a/x'],
    ],
  ])('reads %s', (_case, text, keys) => {
    expect([...parseContainerCredentials(text, 'f.json')]).toEqual(keys);
  });

  it.each<[string, string, RegExp]>([
    ['invalid JSON', '{"identities":', /^container credentials config f.json: invalid JSON: /],
    ['an array', '[]', /expected a JSON object/],
    ['identities not an array', '{"identities":{}}', /"identities" must be an array/],
    [
      'a missing serviceAccount',
      '{"identities":[{"namespace":"a"}]}',
      /identities\[0\]\.serviceAccount must be/,
    ],
    [
      'an empty namespace',
      '{"identities":[{"namespace":"","serviceAccount":"x"}]}',
      /identities\[0\]\.namespace must be/,
    ],
  ])('refuses %s, naming the file', (_case, text, message) => {
    expect(() => parseContainerCredentials(text, 'f.json')).toThrow(message);
  });
});

describe('container credentials: reload', () => {
  let dir: string;
  let stop: (() => void) | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'piw-cc-'));
  });
  afterEach(async () => {
    stop?.();
    await rm(dir, { recursive: true, force: true });
  });

  const identities = (...pairs: Array<[string, string]>): string =>
    JSON.stringify({
      identities: pairs.map(([namespace, serviceAccount]) => ({ namespace, serviceAccount })),
    });

  it('follows a ConfigMap volume’s symlink swap, and keeps the last good set for a malformed file', async () => {
    // A ConfigMap volume: config.json -> ..data/config.json, ..data -> ..<timestamp>.
    await mkdir(join(dir, '..2026_1'));
    await writeFile(join(dir, '..2026_1', 'config.json'), identities(['a', 'x']));
    await symlink('..2026_1', join(dir, '..data'));
    await symlink('..data/config.json', join(dir, 'config.json'));
    const file = join(dir, 'config.json');
    const config = await ContainerCredentialsConfig.fromFile(file);
    const reloads: number[] = [];
    const errors: Error[] = [];
    stop = watchContainerCredentials(
      file,
      config,
      { onReload: (n) => reloads.push(n), onError: (e) => errors.push(e) },
      20,
    );
    expect(config.has('a', 'x')).toBe(true);

    const swap = async (name: string, text: string) => {
      await mkdir(join(dir, name));
      await writeFile(join(dir, name, 'config.json'), text);
      await symlink(name, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    };
    await swap('..2026_2', identities(['b', 'y'], ['c', 'z']));
    await until('the swapped set', () => config.has('b', 'y'));
    expect(config.has('a', 'x')).toBe(false);
    expect(config.size).toBe(2);

    await swap('..2026_3', '{"identities": [');
    await until('an error', () => errors.length > 0);
    expect(errors[0]?.message).toMatch(/invalid JSON/);
    expect(config.has('b', 'y')).toBe(true);

    await swap('..2026_4', identities(['d', 'w']));
    await until('the fixed file', () => config.has('d', 'w'));
    expect(reloads.at(-1)).toBe(1);
  });

  it('fails at once for a file that cannot be read', async () => {
    await expect(ContainerCredentialsConfig.fromFile(join(dir, 'absent.json'))).rejects.toThrow(
      /^container credentials config .+absent\.json: ENOENT/,
    );
  });
});

describe('container credentials: mutate --watch-container-credentials-config', () => {
  const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
  it.each(['container-credentials', 'container-credentials-custom-uri'])('%s', async (name) => {
    const [fixture] = fixturesNamed(name);
    const flags = Object.entries(fixture!.optionsJson).map(
      ([key, value]) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}=${String(value)}`,
    );
    const stdout = await new Promise<string>((done, fail) =>
      execFile(
        process.execPath,
        [
          CLI,
          'mutate',
          join(fixture!.dir, 'review.json'),
          '--output=pod',
          `--service-accounts=${fixture!.serviceAccountsFile}`,
          `--watch-container-credentials-config=${fixture!.containerCredentialsFile!}`,
          ...flags,
        ],
        (error, out) => (error ? fail(error) : done(out)),
      ),
    );
    expect(JSON.parse(stdout)).toEqual(fixture!.expectedPod);
  });
});
