// doctor's pure checks: findings decided from objects, without a cluster.
import type {
  V1EndpointSlice,
  V1MutatingWebhook,
  V1Pod,
  V1ReplicaSet,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { exportJWK, generateKeyPair, SignJWT, type JSONWebKeySet } from 'jose';
import { describe, expect, it } from 'vitest';
import { exitStatus, formatText, selectorMatches, type Finding } from '../../src/irsa/doctor.js';
import { tokenFindings } from '../../src/irsa/doctor-token.js';
import {
  certificateFindings,
  findWebhooks,
  ownPodsFindings,
  readyEndpoints,
  serviceFindings,
  settingsFindings,
  type FoundWebhook,
} from '../../src/irsa/doctor-webhook.js';
import {
  annotationFindings,
  missedPodFindings,
  missedPods,
  remedyFor,
  RESTARTED_AT_ANNOTATION,
  restartPatch,
  rolloutTargets,
  type WorkloadInventory,
} from '../../src/irsa/doctor-workloads.js';
import {
  ANNOTATION,
  DEFAULT_ANNOTATION_PREFIX,
  ENV,
  SKIP_LABEL,
  TOKEN_VOLUME_NAME,
} from '../../src/vocabulary.js';

const PREFIX = DEFAULT_ANNOTATION_PREFIX;
const ROLE = 'arn:aws:iam::111122223333:role/app';
const ROLE_KEY = `${PREFIX}/${ANNOTATION.roleArn}`;

function sa(namespace: string, name: string, annotations: Record<string, string> = {}): V1ServiceAccount {
  return { metadata: { namespace, name, annotations } };
}

function pod(
  name: string,
  options: {
    namespace?: string;
    owner?: { kind: string; name: string };
    labels?: Record<string, string>;
    mutatedWith?: string;
    phase?: string;
  } = {},
): V1Pod {
  return {
    metadata: {
      namespace: options.namespace ?? 'app',
      name,
      labels: options.labels,
      ownerReferences: options.owner
        ? [{ apiVersion: 'apps/v1', uid: 'u', controller: true, ...options.owner }]
        : undefined,
    },
    spec: {
      serviceAccountName: 'app',
      containers: [
        {
          name: 'c',
          env: options.mutatedWith ? [{ name: ENV.roleArn, value: options.mutatedWith }] : undefined,
        },
      ],
      volumes: options.mutatedWith ? [{ name: TOKEN_VOLUME_NAME }] : undefined,
    },
    status: { phase: options.phase ?? 'Running' },
  };
}

const replicaSet = (name: string, deployment?: string): V1ReplicaSet => ({
  metadata: {
    namespace: 'app',
    name,
    ownerReferences: deployment
      ? [{ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, uid: 'd', controller: true }]
      : undefined,
  },
});

const chartWebhook: V1MutatingWebhook = {
  name: 'pod-identity-webhook.amazonaws.com',
  clientConfig: {
    service: { name: 'pod-identity-webhook', namespace: 'piw', port: 443, path: '/mutate' },
    caBundle: 'Q0E=',
  },
  admissionReviewVersions: ['v1', 'v1beta1'],
  sideEffects: 'None',
  failurePolicy: 'Ignore',
  namespaceSelector: {
    matchExpressions: [
      { key: SKIP_LABEL, operator: 'DoesNotExist' },
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'piw'] },
    ],
  },
  objectSelector: { matchExpressions: [{ key: SKIP_LABEL, operator: 'DoesNotExist' }] },
};
const found: FoundWebhook = { configuration: 'pod-identity-webhook', webhook: chartWebhook };

function inventory(pods: V1Pod[], more: Partial<WorkloadInventory> = {}): WorkloadInventory {
  return {
    pods,
    serviceAccounts: [sa('app', 'app', { [ROLE_KEY]: ROLE }), sa('kube-system', 'app', { [ROLE_KEY]: ROLE })],
    namespaces: [],
    replicaSets: [replicaSet('web-1', 'web'), replicaSet('orphan-1')],
    webhooks: [chartWebhook],
    annotationPrefix: PREFIX,
    ...more,
  };
}

describe('selectorMatches', () => {
  it.each([
    [undefined, {}, true],
    [{ matchLabels: { a: '1' } }, { a: '1' }, true],
    [{ matchLabels: { a: '1' } }, { a: '2' }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'In', values: ['1'] }] }, {}, false],
    [{ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, {}, true],
    [{ matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] }, { a: '1' }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'Exists' }] }, { a: '' }, true],
    [{ matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] }, { a: '' }, false],
    [{ matchExpressions: [{ key: 'a', operator: 'Gt', values: ['1'] }] }, { a: '2' }, false],
  ])('%j on %j → %s', (selector, labels, expected) => {
    expect(selectorMatches(selector, labels)).toBe(expected);
  });
});

describe('Pods that missed the webhook', () => {
  it('finds a running Pod whose ServiceAccount has a role and that has no token volume', () => {
    const missed = missedPods(inventory([pod('web-1-a', { owner: { kind: 'ReplicaSet', name: 'web-1' } })]));
    expect(missed).toEqual([
      {
        namespace: 'app',
        name: 'web-1-a',
        serviceAccount: 'app',
        roleArn: ROLE,
        remedy: { kind: 'Deployment', namespace: 'app', name: 'web' },
      },
    ]);
  });

  it('leaves alone mutated, skipped, finished, excluded and role-less Pods', () => {
    const pods = [
      pod('mutated', { mutatedWith: ROLE }),
      pod('skipped', { labels: { [SKIP_LABEL]: 'true' } }),
      pod('done', { phase: 'Succeeded' }),
      pod('system', { namespace: 'kube-system' }),
      { ...pod('no-role'), spec: { ...pod('no-role').spec!, serviceAccountName: 'default' } },
    ];
    expect(missedPods(inventory(pods))).toEqual([]);
    // A namespace carrying the skip label is excluded too.
    expect(
      missedPods(
        inventory([pod('p')], { namespaces: [{ metadata: { name: 'app', labels: { [SKIP_LABEL]: '' } } }] }),
      ),
    ).toEqual([]);
  });

  it('uses the webhook rules for annotations: a typo in the role-arn key asks for no role', () => {
    const typo = sa('app', 'app', { [`eks.amazon.com/${ANNOTATION.roleArn}`]: ROLE });
    expect(missedPods(inventory([pod('p')], { serviceAccounts: [typo] }))).toEqual([]);
  });

  it('reports a Pod running with a role its ServiceAccount no longer names', () => {
    const old = 'arn:aws:iam::111122223333:role/old';
    const [missed] = missedPods(
      inventory([pod('p', { mutatedWith: old, owner: { kind: 'StatefulSet', name: 'db' } })]),
    );
    expect(missed).toMatchObject({ injectedRoleArn: old, roleArn: ROLE });
    expect(missedPodFindings([missed!])[0]).toMatchObject({
      check: 'pod-role-changed',
      subject: 'StatefulSet app/db',
      problem: expect.stringContaining(`run with role ${old}`),
    });
  });

  it.each([
    [undefined, { kind: 'delete', why: 'a bare Pod (no owner)' }],
    [
      { kind: 'ReplicaSet', name: 'web-1' },
      { kind: 'Deployment', name: 'web' },
    ],
    [{ kind: 'ReplicaSet', name: 'orphan-1' }, { kind: 'delete' }],
    [
      { kind: 'ReplicaSet', name: 'gone' },
      { kind: 'delete', why: expect.stringContaining('not found') },
    ],
    [
      { kind: 'StatefulSet', name: 'db' },
      { kind: 'StatefulSet', name: 'db' },
    ],
    [
      { kind: 'DaemonSet', name: 'agent' },
      { kind: 'DaemonSet', name: 'agent' },
    ],
    [
      { kind: 'Job', name: 'once' },
      { kind: 'delete', why: expect.stringContaining('Job once') },
    ],
  ])('owner %j → %j', (owner, remedy) => {
    expect(
      remedyFor(pod('p', { owner }), [replicaSet('web-1', 'web'), replicaSet('orphan-1')]),
    ).toMatchObject(remedy);
  });

  it('rolls each workload once and says what to do, with or without --restart', () => {
    const missed = missedPods(
      inventory([
        pod('web-1-a', { owner: { kind: 'ReplicaSet', name: 'web-1' } }),
        pod('web-1-b', { owner: { kind: 'ReplicaSet', name: 'web-1' } }),
        pod('bare'),
      ]),
    );
    expect(rolloutTargets(missed)).toEqual([{ kind: 'Deployment', namespace: 'app', name: 'web' }]);
    const findings = missedPodFindings(missed);
    expect(findings.map((f) => `[${f.severity}] ${f.subject}: ${f.action}`)).toEqual([
      '[warn] Deployment app/web: roll it so its Pods are created again and mutated: doctor --restart, or kubectl -n app rollout restart deployment/web',
      expect.stringMatching(/^\[warn\] Pod app\/bare: delete and recreate it/),
    ]);
    expect(findings[0]!.problem).toContain('2 Pods web-1-a, web-1-b not mutated');

    const restarted = missedPodFindings(
      missed,
      new Map([['Deployment/app/web', { restarted: true, at: '2025-01-02T03:04:05Z' }]]),
    );
    expect(restarted[0]).toMatchObject({ severity: 'info', check: 'restart' });
    const failed = missedPodFindings(
      missed,
      new Map([['Deployment/app/web', { restarted: false, error: 'HTTP 403' }]]),
    );
    expect(failed[0]).toMatchObject({ severity: 'error', problem: expect.stringContaining('HTTP 403') });
  });

  it('patches the template as kubectl rollout restart does', () => {
    expect(restartPatch(new Date('2025-01-02T03:04:05.678Z'))).toEqual({
      spec: {
        template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: '2025-01-02T03:04:05Z' } } },
      },
    });
  });
});

describe('ServiceAccount annotations', () => {
  it('reports a typo and another prefix with the kubectl command that fixes it', () => {
    const findings = annotationFindings(
      [
        sa('app', 'typo', { [`eks.amazon.com/${ANNOTATION.roleArn}`]: ROLE }),
        sa('app', 'other', { [`example.com/${ANNOTATION.roleArn}`]: ROLE }),
        sa('app', 'fine', { [ROLE_KEY]: ROLE }),
      ],
      PREFIX,
    );
    expect(findings).toEqual([
      expect.objectContaining({
        subject: 'ServiceAccount app/typo',
        problem: `ServiceAccount annotation "eks.amazon.com/role-arn" is ignored; did you mean "${ROLE_KEY}"?`,
        action: expect.stringContaining(
          `kubectl -n app annotate serviceaccount typo '${ROLE_KEY}=${ROLE}' 'eks.amazon.com/role-arn-'`,
        ),
      }),
      expect.objectContaining({ subject: 'ServiceAccount app/other' }),
    ]);
  });

  it('passes on the other warnings of the rules (a malformed role ARN)', () => {
    const [finding] = annotationFindings([sa('app', 'bad', { [ROLE_KEY]: 'arn:aws:iam::1:role/x' })], PREFIX);
    expect(finding?.problem).toContain('does not look like');
  });
});

describe('the webhook configuration', () => {
  it('finds ours by webhook name, by Service name, or by configuration name', () => {
    const other: V1MutatingWebhook = {
      ...chartWebhook,
      name: 'other.example.com',
      clientConfig: { url: 'https://x' },
    };
    const byService: V1MutatingWebhook = {
      ...chartWebhook,
      name: 'x.example.com',
      clientConfig: { service: { name: 'rel-pod-identity-webhook', namespace: 'piw' } },
    };
    const configurations = [
      { metadata: { name: 'a' }, webhooks: [chartWebhook, other] },
      { metadata: { name: 'b' }, webhooks: [byService] },
    ];
    expect(findWebhooks(configurations).map((f) => `${f.configuration}/${f.webhook.name}`)).toEqual([
      'a/pod-identity-webhook.amazonaws.com',
      'b/x.example.com',
    ]);
    expect(findWebhooks(configurations, 'a')).toHaveLength(2);
    expect(findWebhooks(configurations, 'c')).toEqual([]);
  });

  it('passes the chart’s settings', () => {
    expect(settingsFindings(found)).toEqual([]);
  });

  it('reports no v1, side effects, a selector that lets skipped Pods through, an empty caBundle', () => {
    const bad: FoundWebhook = {
      configuration: 'c',
      webhook: {
        ...chartWebhook,
        admissionReviewVersions: ['v1beta1'],
        sideEffects: 'Unknown',
        objectSelector: {},
        clientConfig: { ...chartWebhook.clientConfig, caBundle: undefined },
      },
    };
    expect(
      settingsFindings(bad).map((f) => [f.severity, f.check, f.problem.split(' ').slice(0, 2).join(' ')]),
    ).toEqual([
      ['warn', 'webhook-configuration', 'admissionReviewVersions is'],
      ['warn', 'webhook-configuration', 'sideEffects is'],
      ['warn', 'webhook-configuration', 'objectSelector does'],
      ['error', 'certificate', 'caBundle is'],
    ]);
  });

  it('reports its own Pods when neither the skip label nor the namespace keeps them away', () => {
    const own = { metadata: { namespace: 'piw', name: 'piw-1', labels: { app: 'piw' } } };
    const elsewhere: FoundWebhook = {
      configuration: 'c',
      webhook: { ...chartWebhook, namespaceSelector: {} },
    };
    expect(ownPodsFindings(found, [own], [])).toEqual([]); // namespace excluded
    expect(
      ownPodsFindings(elsewhere, [{ metadata: { ...own.metadata, labels: { [SKIP_LABEL]: 'true' } } }], []),
    ).toEqual([]);
    expect(ownPodsFindings(elsewhere, [own], [])).toEqual([
      expect.objectContaining({
        severity: 'warn',
        check: 'webhook-own-pods',
        problem: expect.stringContaining('piw/piw-1'),
      }),
    ]);
  });

  const service: V1Service = {
    metadata: { namespace: 'piw', name: 'pod-identity-webhook' },
    spec: { ports: [{ name: 'https', port: 443, targetPort: 8443 }] },
  };
  const slice = (ready: boolean): V1EndpointSlice => ({
    addressType: 'IPv4',
    ports: [{ name: 'https', port: 8443 }],
    endpoints: [{ addresses: ['10.0.0.5'], conditions: { ready } }],
  });

  it('needs the Service, its port and a ready endpoint', () => {
    expect(serviceFindings(found, { service, endpointSlices: [slice(true)] })).toEqual([]);
    expect(readyEndpoints(found, { service, endpointSlices: [slice(true)] })).toEqual([
      { host: '10.0.0.5', port: 8443, serverName: 'pod-identity-webhook.piw.svc' },
    ]);
    expect(serviceFindings(found, { service, endpointSlices: [slice(false)] })[0]?.problem).toContain(
      'no ready endpoints',
    );
    expect(serviceFindings(found, { service: undefined, endpointSlices: [] })[0]?.problem).toContain(
      'not found',
    );
    const noPort = { ...service, spec: { ports: [{ port: 8443 }] } };
    expect(serviceFindings(found, { service: noPort, endpointSlices: [] })[0]?.problem).toContain(
      'no port 443',
    );
  });

  it('reports a rejected certificate, and only says so when nothing could be reached', () => {
    expect(certificateFindings(found, [{ target: 'a:1', outcome: 'verified' }])).toEqual([]);
    expect(
      certificateFindings(found, [{ target: 'a:1', outcome: 'rejected', detail: 'unable to verify' }])[0],
    ).toMatchObject({ severity: 'error', check: 'certificate' });
    expect(
      certificateFindings(found, [{ target: 'a:1', outcome: 'unreachable', detail: 'ETIMEDOUT' }])[0],
    ).toMatchObject({ severity: 'info', problem: expect.stringContaining('could not reach a:1') });
  });
});

describe('output and exit status', () => {
  const warn: Finding = { severity: 'warn', check: 'annotation', subject: 'S', problem: 'P', action: 'A' };
  const info: Finding = { ...warn, severity: 'info' };
  it('prints one line per finding, most severe first, and exits 1 only for warn or error', () => {
    const summary = { pods: 1, serviceAccounts: 2, webhooks: 1 };
    expect(formatText([info, warn], summary)).toBe('[warn] S: P: A\n[info] S: P: A\n');
    expect(exitStatus([info, warn])).toBe(1);
    expect(exitStatus([info])).toBe(0);
    expect(formatText([], summary)).toBe(
      '[ok] nothing needs attention (checked 1 Pods, 2 ServiceAccounts, 1 webhooks)\n',
    );
  });
});

describe('token checks', async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwks: JSONWebKeySet = {
    keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }],
  };
  const issuer = 'https://oidc.example.com';
  const sign = (claims: { iss?: string; aud?: string; sub?: string }, kid = 'k1') =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid })
      .setIssuer(claims.iss ?? issuer)
      .setAudience(claims.aud ?? 'sts.amazonaws.com')
      .setSubject(claims.sub ?? 'system:serviceaccount:app:app')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(privateKey);
  const expected = {
    issuer,
    audience: 'sts.amazonaws.com',
    namespace: 'app',
    serviceAccount: 'app',
    jwksSource: 'keys.json',
  };

  it('accepts a token AWS would accept', async () => {
    expect(await tokenFindings(await sign({}), jwks, expected)).toEqual([]);
  });

  it.each([
    ['kid', {}, 'k2', 'kid k2 is not in the JWKS'],
    ['issuer', { iss: 'https://other' }, 'k1', 'issuer is https://other'],
    ['audience', { aud: 'other' }, 'k1', 'audience is "other"'],
    ['subject', { sub: 'system:serviceaccount:x:y' }, 'k1', 'subject is system:serviceaccount:x:y'],
  ])('reports a wrong %s', async (_what, claims, kid, problem) => {
    const findings = await tokenFindings(await sign(claims, kid), jwks, expected);
    expect(findings).toEqual([
      expect.objectContaining({ severity: 'error', problem: expect.stringContaining(problem) }),
    ]);
  });

  it('reports a signature from another key with the same kid', async () => {
    const other = await generateKeyPair('RS256');
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(issuer)
      .setAudience('sts.amazonaws.com')
      .setSubject('system:serviceaccount:app:app')
      .setExpirationTime('10m')
      .sign(other.privateKey);
    expect((await tokenFindings(token, jwks, expected))[0]?.problem).toContain('signature does not verify');
  });
});
