// The apps the fuzzer talks to: the real fastify app of src/server/app.ts, answering through
// app.inject() (no socket, no TLS), with a file ServiceAccount source and three option sets, so
// that every rule the Pod can reach (fsGroup, region without a role, Pod role-arn, EKS Pod
// Identity, the ConfigMap's globs, composed ARNs) runs on hostile Pods.
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { mutationOptionsFrom } from '../../src/identity/options.js';
import { parseRoleMapping } from '../../src/identity/role-mapping.js';
import { buildApp } from '../../src/server/app.js';
import { createMetrics } from '../../src/server/metrics.js';
import { ContainerCredentialsConfig } from '../../src/serviceaccounts/container-credentials-source.js';
import { FileServiceAccountSource } from '../../src/serviceaccounts/file-source.js';

const ROLE = 'arn:aws:iam::111122223333:role';
const P = 'eks.amazonaws.com';

export const SERVICE_ACCOUNTS_YAML = `
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: app, namespace: default, annotations: {${P}/role-arn: "${ROLE}/app"}}}
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: default, namespace: default}}
- apiVersion: v1
  kind: ServiceAccount
  metadata:
    name: full
    namespace: default
    annotations:
      ${P}/role-arn: "${ROLE}/full"
      ${P}/audience: irsa.example.com
      ${P}/token-expiration: "3600"
      ${P}/sts-regional-endpoints: "true"
      ${P}/sts-endpoint: https://sts.eu-west-1.amazonaws.com
      ${P}/skip-containers: sidecar
      ${P}/include-containers: app,init,constructor
      ${P}/fs-group: "3000"
      ${P}/region: eu-west-1
      ${P}/role-session-name-from-pod: "true"
      ${P}/allowed-role-arns: "${ROLE}/allowed,${ROLE}/pod"
- apiVersion: v1
  kind: ServiceAccount
  metadata:
    name: odd
    namespace: default
    annotations:
      ${P}/role-arn: team/constructor
      ${P}/token-expiration: "1e3"
      ${P}/fs-group: nobody
      ${P}/region: __proto__
      ${P}/sts-regional-endpoints: maybe
      ${P}/sts-endpoint: "javascript:alert(1)"
      eks.amazon.com/role-arn: typo
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: app, namespace: team-a-prod, annotations: {${P}/role-arn: "${ROLE}/team-a"}}}
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: listed, namespace: default}}
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: constructor, namespace: default, annotations: {${P}/role-arn: "${ROLE}/constructor"}}}
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: __proto__, namespace: default, annotations: {${P}/role-arn: "${ROLE}/proto"}}}
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: toString, namespace: constructor, annotations: {${P}/role-arn: "${ROLE}/tostring"}}}
`;

const ROLE_MAPPING = JSON.stringify({
  'default/mapped-sa': { RoleARN: `${ROLE}/mapped`, Audience: 'mapped.example.com', TokenExpiration: 7200 },
  'team-*/*': { RoleARN: `${ROLE}/team`, UseRegionalSTS: true },
  '*-*-*/*-*': { RoleARN: `${ROLE}/dashes` },
  '*/constructor': { RoleARN: '' },
  '*-*-prod/*': { RoleARN: `${ROLE}/prod` },
});

/** The option sets: index = FuzzInput.config. */
const CONFIGS = [
  { options: {} },
  {
    options: {
      fsGroup: 2000,
      roleSessionNameFromPod: true,
      regionWithoutRole: true,
      awsDefaultRegion: 'us-east-1',
      stsRegionalEndpoint: true,
      allowPodRoleArn: true,
      stsEndpoint: 'http://sts.local:8080',
      minTokenExpiration: 3600,
      maxTokenExpiration: 43200,
      tokenExpiration: 43200,
    },
  },
  {
    options: { composeRoleArn: true, awsAccountId: '111122223333', awsPartition: 'aws', fsGroup: 0 },
    roleMapping: ROLE_MAPPING,
    containerCredentials: ['default/listed', 'other/listed', 'default/constructor', 'constructor/toString'],
  },
];

export const CONFIG_COUNT = CONFIGS.length;

/** The apps, ready; their log lines are formatted as in `serve` and dropped. */
export async function fuzzApps(): Promise<FastifyInstance[]> {
  const source = FileServiceAccountSource.fromText(SERVICE_ACCOUNTS_YAML, 'fuzz');
  const apps = CONFIGS.map((config) => {
    const app = buildApp({
      // inject() never opens a socket, so the HTTPS server needs no certificate.
      https: {},
      source,
      options: mutationOptionsFrom(config.options).options,
      roleMapping:
        config.roleMapping === undefined ? undefined : parseRoleMapping(config.roleMapping, 'fuzz'),
      containerCredentials:
        config.containerCredentials === undefined
          ? undefined
          : new ContainerCredentialsConfig(new Set(config.containerCredentials)),
      log: pino(
        { level: 'info', base: { service: 'pod-identity-webhook' } },
        process.env['FUZZ_LOG'] ? process.stderr : { write: () => {} },
      ),
      metrics: createMetrics({ size: () => source.size(), synced: () => true }),
      notReadyReasons: () => [],
    });
    return app;
  });
  await Promise.all(apps.map((app) => app.ready()));
  return apps;
}
