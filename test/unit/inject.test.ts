import type { V1Container, V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Identity } from '../../src/identity/rules.js';
import { injectIdentity, isWindows } from '../../src/mutation/inject.js';
import { applyPatch, diffPods } from '../../src/mutation/patch.js';

const MOUNT = '/var/run/secrets/eks.amazonaws.com/serviceaccount';
const identity: Identity = {
  roleArn: 'arn:aws:iam::111122223333:role/app',
  audience: 'sts.amazonaws.com',
  expirationSeconds: 86400,
  tokenMountPath: MOUNT,
  regionalSts: false,
  region: '',
  skipContainers: new Set(),
};
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
            { name: 'AWS_REGION', value: 'us-east-1' },
            { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'legacy' },
          ],
        },
      ),
      { ...identity, region: 'eu-west-1', regionalSts: true },
    );
    expect(result.pod.spec?.containers[0]?.env?.map((e) => e.name)).toEqual([
      'AWS_STS_REGIONAL_ENDPOINTS',
      'AWS_DEFAULT_REGION',
      'AWS_REGION',
      'AWS_ROLE_ARN',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
    ]);
    expect(result.pod.spec?.containers[1]?.env).toEqual([
      { name: 'AWS_REGION', value: 'us-east-1' },
      { name: 'AWS_STS_REGIONAL_ENDPOINTS', value: 'legacy' },
      { name: 'AWS_ROLE_ARN', value: identity.roleArn },
      { name: 'AWS_WEB_IDENTITY_TOKEN_FILE', value: `${MOUNT}/token` },
    ]);
  });

  it('adds neither identity variable to a container that sets one of them, and warns', () => {
    const result = injectIdentity(
      pod({ name: 'a', env: [{ name: 'AWS_ROLE_ARN', value: 'mine' }] }),
      identity,
    );
    expect(result.pod.spec?.containers[0]?.env).toEqual([{ name: 'AWS_ROLE_ARN', value: 'mine' }]);
    expect(result.warnings).toEqual([
      'container "a" already sets AWS_ROLE_ARN alone; AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE not injected',
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
      name: 'AWS_WEB_IDENTITY_TOKEN_FILE',
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

  it('reads both node selector labels', () => {
    expect(
      isWindows({ spec: { containers: [], nodeSelector: { 'beta.kubernetes.io/os': 'windows' } } }),
    ).toBe(true);
    expect(isWindows({ spec: { containers: [], nodeSelector: { 'kubernetes.io/os': 'linux' } } })).toBe(
      false,
    );
  });

  it('requires every required affinity term to pin Windows', () => {
    expect(isWindows(affinity(['windows']))).toBe(true);
    expect(isWindows(affinity(['windows'], ['windows']))).toBe(true);
    expect(isWindows(affinity(['windows'], ['linux']))).toBe(false);
    expect(isWindows(affinity(['windows', 'linux']))).toBe(false);
    expect(isWindows(affinity())).toBe(false);
  });
});

describe('the patch, for generated Pods (property)', () => {
  const IDENTITY_VARS = [
    'AWS_ROLE_ARN',
    'AWS_WEB_IDENTITY_TOKEN_FILE',
    'AWS_REGION',
    'AWS_DEFAULT_REGION',
    'AWS_STS_REGIONAL_ENDPOINTS',
  ];
  const envVar = fc.record({
    name: fc.oneof(fc.constantFrom(...IDENTITY_VARS), fc.stringMatching(/^[A-Z_]{1,8}$/)),
    value: fc.string(),
  });
  const mount = fc.record({
    name: fc.oneof(fc.constant('aws-iam-token'), fc.stringMatching(/^[a-z]{1,6}$/)),
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
        fc.record({ name: fc.oneof(fc.constant('aws-iam-token'), fc.stringMatching(/^[a-z]{1,6}$/)) }),
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
    audience: fc.constantFrom('sts.amazonaws.com', 'custom'),
    expirationSeconds: fc.integer({ min: 600, max: 100000 }),
    tokenMountPath: fc.constant(MOUNT),
    regionalSts: fc.boolean(),
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
  const identityNames = names.filter((n) => n.startsWith('AWS_'));
  return identityNames.length - new Set(identityNames).size;
}
