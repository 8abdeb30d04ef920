// The projected token the webhook asks for is one AWS STS accepts: a token from the TokenRequest API
// with the injected audience and lifetime verifies against kube-apiserver's own OIDC discovery.
import { createHash, createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { useE2E } from './harness/clients.js';
import {
  createPod,
  createServiceAccount,
  createTestNamespace,
  podManifest,
  roleArn,
  type TestNamespace,
} from './harness/objects.js';
import { registerPodIdentityWebhook } from './harness/registration.js';
import { httpsRequest } from './harness/https.js';
import { startWebhook } from './harness/webhook.js';
import { DEFAULT_TOKEN_AUDIENCE, DEFAULT_TOKEN_EXPIRATION, TOKEN_VOLUME_NAME } from '../../src/vocabulary.js';

const { ctx, core } = useE2E();

let ns: TestNamespace;
let serviceAccountUid: string | undefined;

async function getJson<T>(url: string): Promise<T> {
  const res = await httpsRequest({
    url,
    caFile: ctx.clusterCa.cert,
    clientCert: ctx.admin,
    // /openid/v1/jwks answers 406 unless its media type is acceptable.
    headers: { accept: 'application/json, application/jwk-set+json' },
  });
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status} ${res.body}`);
  return JSON.parse(res.body) as T;
}

async function requestToken(audiences: string[], expirationSeconds: number): Promise<string> {
  const response = await core.createNamespacedServiceAccountToken({
    name: 'app',
    namespace: ns.name,
    body: { spec: { audiences, expirationSeconds } },
  });
  const token = response.status?.token;
  if (!token) throw new Error('TokenRequest returned no token');
  return token;
}

beforeAll(async () => {
  const webhook = await startWebhook({ name: 'token' });
  ns = await createTestNamespace('token');
  serviceAccountUid = (await createServiceAccount(ns.name, 'app', { roleArn: roleArn('token') })).metadata
    ?.uid;
  await registerPodIdentityWebhook({ endpoint: webhook, namespace: ns });
});

describe('service account token for AWS STS', () => {
  it('verifies against /openid/v1/jwks with the issuer, subject and audience an IAM trust policy checks', async () => {
    // The token parameters exactly as the webhook injected them into a stored Pod.
    const pod = await createPod(ns.name, podManifest('token-user', { serviceAccountName: 'app' }));
    const projection = pod.spec?.volumes?.find((v) => v.name === TOKEN_VOLUME_NAME)?.projected?.sources?.[0]
      ?.serviceAccountToken;
    expect(projection).toMatchObject({
      audience: DEFAULT_TOKEN_AUDIENCE,
      expirationSeconds: DEFAULT_TOKEN_EXPIRATION,
    });
    const audience = projection?.audience ?? '';
    const expirationSeconds = projection?.expirationSeconds ?? 0;

    const token = await requestToken([audience], expirationSeconds);

    const discovery = await getJson<{
      issuer: string;
      jwks_uri: string;
      id_token_signing_alg_values_supported: string[];
    }>(`${ctx.apiServer.url}/.well-known/openid-configuration`);
    expect(discovery.issuer).toBe(ctx.serviceAccount.issuer);
    expect(discovery.id_token_signing_alg_values_supported).toContain('RS256');
    const jwks = await getJson<JSONWebKeySet>(discovery.jwks_uri);

    const subject = `system:serviceaccount:${ns.name}:app`;
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: discovery.issuer,
      audience: DEFAULT_TOKEN_AUDIENCE,
      subject,
      algorithms: ['RS256'],
    });
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload.aud).toEqual([DEFAULT_TOKEN_AUDIENCE]);
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(DEFAULT_TOKEN_EXPIRATION);
    expect(payload['kubernetes.io']).toMatchObject({
      namespace: ns.name,
      serviceaccount: { name: 'app', uid: serviceAccountUid },
    });

    // The conditions of an IRSA trust policy, keyed by the issuer without its scheme.
    const issuerHost = discovery.issuer.replace(/^https:\/\//, '');
    const claims: Record<string, unknown> = {
      [`${issuerHost}:sub`]: payload.sub,
      [`${issuerHost}:aud`]: Array.isArray(payload.aud) ? payload.aud[0] : payload.aud,
    };
    expect(claims).toEqual({ [`${issuerHost}:sub`]: subject, [`${issuerHost}:aud`]: DEFAULT_TOKEN_AUDIENCE });
  });

  it('uses key IDs derived from the signing key (base64url SHA-256 of the DER SubjectPublicKeyInfo)', async () => {
    const spki = createPublicKey(readFileSync(ctx.serviceAccount.publicKey)).export({
      type: 'spki',
      format: 'der',
    });
    const expectedKid = createHash('sha256').update(spki).digest('base64url');
    const jwks = await getJson<JSONWebKeySet>(ctx.serviceAccount.jwksUri);
    expect(jwks.keys.map((k) => k.kid)).toEqual([expectedKid]);
    expect(decodeProtectedHeader(await requestToken([DEFAULT_TOKEN_AUDIENCE], 3600)).kid).toBe(expectedKid);
  });

  it('rejects a token minted for another audience', async () => {
    const token = await requestToken(['some-other-audience'], 3600);
    const jwks = await getJson<JSONWebKeySet>(ctx.serviceAccount.jwksUri);
    await expect(
      jwtVerify(token, createLocalJWKSet(jwks), {
        issuer: ctx.serviceAccount.issuer,
        audience: DEFAULT_TOKEN_AUDIENCE,
      }),
    ).rejects.toBeInstanceOf(errors.JWTClaimValidationFailed);
  });
});
