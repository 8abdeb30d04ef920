import type { V1Container, V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../src/identity/rules.js';
import { injectIdentity, isWindows } from '../../src/mutation/inject.js';
import { applyPatch, diffPods } from '../../src/mutation/patch.js';
import {
  DEFAULT_TOKEN_AUDIENCE,
  DEFAULT_TOKEN_EXPIRATION,
  DEFAULT_TOKEN_MOUNT_PATH,
  ENV,
  STS_REGIONAL,
  TOKEN_FILE,
  TOKEN_VOLUME_NAME,
} from '../../src/vocabulary.js';

const MOUNT = DEFAULT_TOKEN_MOUNT_PATH;
const identity: Identity = {
  roleArn: 'arn:aws:iam::111122223333:role/app',
  audience: DEFAULT_TOKEN_AUDIENCE,
  expirationSeconds: DEFAULT_TOKEN_EXPIRATION,
  tokenMountPath: MOUNT,
  regionalSts: false,
  stsEndpoint: '',
  region: '',
  skipContainers: new Set(),
};
/** Every variable the webhook may inject. */
const IDENTITY_VARS: string[] = Object.values(ENV);
const pod = (...containers: V1Container[]): V1Pod => ({ metadata: { name: 'p' }, spec: { containers } });

describe('injectIdentity', () => {
  it('leaves the original Pod untouched', () => {
    const original = pod({ name: 'a' });
    const copy = structuredClone(original);
    injectIdentity(original, identity);
    expect(original).toEqual(copy);
  });

  it('adds region and regional STS variables before the identity, only where missing', () => {
    const result = injectIdentity(
      pod(
        { name: 'a' },
        {
          name: 'b',
          env: [
            { name: ENV.region, value: 'us-east-1' },
            { name: ENV.stsRegionalEndpoints, value: 'legacy' },
          ],
        },
      ),
      { ...identity, region: 'eu-west-1', regionalSts: true },
    );
    expect(result.pod.spec?.containers[0]?.env).toEqual([
      { name: ENV.stsRegionalEndpoints, value: STS_REGIONAL },
      { name: ENV.defaultRegion, value: 'eu-west-1' },
      { name: ENV.region, value: 'eu-west-1' },
      { name: ENV.roleArn, value: identity.roleArn },
      { name: ENV.webIdentityTokenFile, value: `${MOUNT}/${TOKEN_FILE}` },
    ]);
    expect(result.pod.spec?.containers[1]?.env).toEqual([
      { name: ENV.region, value: 'us-east-1' },
      { name: ENV.stsRegionalEndpoints, value: 'legacy' },
      { name: ENV.roleArn, value: identity.roleArn },
      { name: ENV.webIdentityTokenFile, value: `${MOUNT}/${TOKEN_FILE}` },
    ]);
  });

  it.each([
    ['the role ARN', ENV.roleArn],
    ['the token file', ENV.webIdentityTokenFile],
  ])('adds neither identity variable to a container that sets only %s, and warns', (_case, present) => {
    const result = injectIdentity(pod({ name: 'a', env: [{ name: present, value: 'mine' }] }), identity);
    expect(result.pod.spec?.containers[0]?.env).toEqual([{ name: present, value: 'mine' }]);
    expect(result.warnings).toEqual([
      `container "a" already sets ${present} alone; ${ENV.roleArn} and ${ENV.webIdentityTokenFile} not injected`,
    ]);
  });

  it('keeps both identity variables of a container that sets both, without a warning', () => {
    const env = [
      { name: ENV.roleArn, value: 'mine' },
      { name: ENV.webIdentityTokenFile, value: '/mine/token' },
    ];
    const result = injectIdentity(pod({ name: 'a', env }), identity);
    expect(result.pod.spec?.containers[0]?.env).toEqual(env);
    expect(result.warnings).toEqual([]);
  });

  it('adds the token volume once, with the identity audience and expiration, when a container mounts it', () => {
    const result = injectIdentity(pod({ name: 'a' }, { name: 'b' }), {
      ...identity,
      audience: 'custom',
      expirationSeconds: 3600,
    });
    expect(result.pod.spec?.containers.map((c) => c.volumeMounts)).toEqual([
      [{ name: TOKEN_VOLUME_NAME, readOnly: true, mountPath: MOUNT }],
      [{ name: TOKEN_VOLUME_NAME, readOnly: true, mountPath: MOUNT }],
    ]);
    expect(result.pod.spec?.volumes).toEqual([
      {
        name: TOKEN_VOLUME_NAME,
        projected: {
          sources: [
            { serviceAccountToken: { audience: 'custom', expirationSeconds: 3600, path: TOKEN_FILE } },
          ],
        },
      },
    ]);
  });

  it('does not add a mount where one exists by name or path, nor a volume nobody mounts', () => {
    const result = injectIdentity(
      pod({ name: 'a', volumeMounts: [{ name: 'mine', mountPath: MOUNT }] }),
      identity,
    );
    expect(result.pod.spec?.containers[0]?.volumeMounts).toEqual([{ name: 'mine', mountPath: MOUNT }]);
    expect(result.pod.spec?.volumes).toBeUndefined();
  });

  it('skips listed containers entirely and never touches ephemeral containers', () => {
    const original: V1Pod = {
      spec: { containers: [{ name: 'a' }, { name: 'skip-me' }], ephemeralContainers: [{ name: 'debug' }] },
    };
    const result = injectIdentity(original, { ...identity, skipContainers: new Set(['skip-me']) });
    expect(result.pod.spec?.containers[1]).toEqual({ name: 'skip-me' });
    expect(result.pod.spec?.ephemeralContainers).toEqual([{ name: 'debug' }]);
    expect(result.pod.spec?.containers[0]?.env).toHaveLength(2);
  });

  it('uses a C: token path on Windows Pods but keeps the mount path', () => {
    const windows: V1Pod = {
      spec: { nodeSelector: { 'kubernetes.io/os': 'windows' }, containers: [{ name: 'a' }] },
    };
    const result = injectIdentity(windows, identity);
    expect(result.pod.spec?.containers[0]?.env?.[1]).toEqual({
      name: ENV.webIdentityTokenFile,
      value: 'C:\\var\\run\\secrets\\eks.amazonaws.com\\serviceaccount\\token',
    });
    expect(result.pod.spec?.containers[0]?.volumeMounts?.[0]?.mountPath).toBe(MOUNT);
  });
});

describe('isWindows', () => {
  const affinity = (...terms: string[][]): V1Pod => ({
    spec: {
      containers: [],
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: terms.map((values) => ({
              matchExpressions: [{ key: 'kubernetes.io/os', operator: 'In', values }],
            })),
          },
        },
      },
    },
  });

  it.each([
    ['kubernetes.io/os: windows', { 'kubernetes.io/os': 'windows' }, true],
    ['beta.kubernetes.io/os: windows', { 'beta.kubernetes.io/os': 'windows' }, true],
    ['kubernetes.io/os: linux', { 'kubernetes.io/os': 'linux' }, false],
    ['no OS label', { 'node.kubernetes.io/instance-type': 'm5.large' }, false],
  ])('node selector %s: %s', (_case, nodeSelector, windows) => {
    expect(isWindows({ spec: { containers: [], nodeSelector } })).toBe(windows);
  });

  it.each([
    ['one term pinning Windows', [['windows']], true],
    ['every term pinning Windows', [['windows'], ['windows']], true],
    ['one of two terms pinning Windows', [['windows'], ['linux']], false],
    ['a term allowing Windows or Linux', [['windows', 'linux']], false],
    ['no terms', [], false],
  ])('required affinity with %s: %s', (_case, terms, windows) => {
    expect(isWindows(affinity(...terms))).toBe(windows);
  });
});

describe('the patch, for generated Pods (property)', () => {
  const envVar = fc.record({
    name: fc.oneof(fc.constantFrom(...IDENTITY_VARS), fc.stringMatching(/^[A-Z_]{1,8}$/)),
    value: fc.string(),
  });
  const mount = fc.record({
    name: fc.oneof(fc.constant(TOKEN_VOLUME_NAME), fc.stringMatching(/^[a-z]{1,6}$/)),
    mountPath: fc.oneof(fc.constant(MOUNT), fc.stringMatching(/^\/[a-z]{1,6}$/)),
  });
  const container = (name: string) =>
    fc.record(
      {
        name: fc.constant(name),
        image: fc.constant('busybox'),
        env: fc.array(envVar, { maxLength: 4 }),
        volumeMounts: fc.array(mount, { maxLength: 3 }),
        restartPolicy: fc.constant('Always'),
        unknownField: fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown),
      },
      { requiredKeys: ['name'] },
    );
  const podArb = fc
    .record({
      containers: fc.integer({ min: 1, max: 4 }),
      init: fc.integer({ min: 0, max: 2 }),
      volumes: fc.array(
        fc.record({ name: fc.oneof(fc.constant(TOKEN_VOLUME_NAME), fc.stringMatching(/^[a-z]{1,6}$/)) }),
        {
          maxLength: 3,
        },
      ),
      windows: fc.boolean(),
    })
    .chain(({ containers, init, volumes, windows }) =>
      fc.record({
        apiVersion: fc.constant('v1'),
        kind: fc.constant('Pod'),
        metadata: fc.constant({ name: 'p', namespace: 'ns' }),
        spec: fc.record(
          {
            containers: fc.tuple(...Array.from({ length: containers }, (_, i) => container(`c${i}`))),
            initContainers: fc.tuple(...Array.from({ length: init }, (_, i) => container(`i${i}`))),
            ephemeralContainers: fc.constant([{ name: 'debug' }]),
            volumes: fc.constant(volumes),
            nodeSelector: fc.constant(windows ? { 'kubernetes.io/os': 'windows' } : {}),
          },
          { requiredKeys: ['containers'] },
        ),
      }),
    );
  const identityArb = fc.record({
    roleArn: fc.constant(identity.roleArn),
    audience: fc.constantFrom(DEFAULT_TOKEN_AUDIENCE, 'custom'),
    expirationSeconds: fc.integer({ min: 600, max: 100000 }),
    tokenMountPath: fc.constant(MOUNT),
    regionalSts: fc.boolean(),
    stsEndpoint: fc.constantFrom('', 'http://127.0.0.1:4566'),
    region: fc.constantFrom('', 'eu-west-1'),
    skipContainers: fc.subarray(['c0', 'c1', 'i0']).map((names) => new Set(names)),
  });

  it('applies cleanly, only adds where the rules allow, keeps what existed, and is idempotent', () => {
    fc.assert(
      fc.property(podArb, identityArb, (generated, id) => {
        const original = generated as V1Pod;
        const { pod: mutated } = injectIdentity(original, id);
        const patch = diffPods(original, mutated);
        expect(applyPatch(original, patch)).toEqual(mutated);
        for (const op of patch) {
          expect(op.op).toBe('add');
          expect(op.path).toMatch(
            /^\/spec\/(volumes(\/\d+)?|(initContainers|containers)\/\d+\/(env|volumeMounts)(\/\d+)?)$/,
          );
        }
        const before = [...(original.spec?.initContainers ?? []), ...(original.spec?.containers ?? [])];
        const after = [...(mutated.spec?.initContainers ?? []), ...(mutated.spec?.containers ?? [])];
        before.forEach((container, i) => {
          const now = after[i]!;
          if (id.skipContainers.has(container.name)) expect(now).toEqual(container);
          expect(now.env?.slice(0, container.env?.length ?? 0)).toEqual(
            container.env ?? (now.env ? [] : undefined),
          );
          const names = (now.env ?? []).map((e) => e.name);
          expect(new Set(names.filter((n) => IDENTITY_VARS.includes(n))).size).toBe(
            names.filter((n) => IDENTITY_VARS.includes(n)).length -
              duplicatesIn(container.env?.map((e) => e.name) ?? []),
          );
        });
        expect(mutated.spec?.ephemeralContainers).toEqual(original.spec?.ephemeralContainers);
        expect(diffPods(mutated, injectIdentity(mutated, id).pod)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});

/** Identity variables the generated Pod already repeated: the mutation never adds a repeat. */
function duplicatesIn(names: string[]): number {
  const identityNames = names.filter((n) => IDENTITY_VARS.includes(n));
  return identityNames.length - new Set(identityNames).size;
}
