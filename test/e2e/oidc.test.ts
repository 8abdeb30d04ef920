// `oidc` against the real kube-apiserver: from the same service-account key, the JWKS it writes is
// the API server's own /openid/v1/jwks, and a token from the TokenRequest API verifies with it.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { useE2E } from './harness/clients.js';
import { httpsRequest } from './harness/https.js';
import { createServiceAccount, createTestNamespace, type TestNamespace } from './harness/objects.js';
import { cliPath } from './harness/webhook.js';
import { repoRoot } from '../support/paths.js';
import { DEFAULT_TOKEN_AUDIENCE } from '../../src/vocabulary.js';

const { ctx, core } = useE2E();
let ns: TestNamespace;

interface Discovery {
  issuer: string;
  jwks_uri: string;
  response_types_supported: string[];
  subject_types_supported: string[];
  id_token_signing_alg_values_supported: string[];
}

async function apiServerJson<T>(path: string): Promise<T> {
  const response = await httpsRequest({
    url: `${ctx.apiServer.url}${path}`,
    caFile: ctx.clusterCa.cert,
    clientCert: ctx.admin,
    headers: { accept: 'application/json, application/jwk-set+json' },
  });
  if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status} ${response.body}`);
  return JSON.parse(response.body) as T;
}

function oidc(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, 'oidc', ...args],
      { cwd: repoRoot, timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Runs `oidc` for `keyFile` and reads the two documents it wrote. */
async function documents(keyFile: string): Promise<{ discovery: Discovery; jwks: JSONWebKeySet }> {
  const out = await mkdtemp(join(ctx.runDir, 'oidc-'));
  const result = await oidc([
    '--issuer',
    ctx.serviceAccount.issuer,
    '--public-key',
    keyFile,
    '--output-dir',
    out,
  ]);
  expect(result.code, result.stderr).toBe(0);
  return {
    discovery: JSON.parse(await readFile(join(out, '.well-known/openid-configuration'), 'utf8')) as Discovery,
    jwks: JSON.parse(await readFile(join(out, 'keys.json'), 'utf8')) as JSONWebKeySet,
  };
}

beforeAll(async () => {
  ns = await createTestNamespace('oidc');
  await createServiceAccount(ns.name, 'app');
});

describe('oidc', () => {
  it('writes the JWKS kube-apiserver serves for the same key, from its public or its private key', async () => {
    const served = await apiServerJson<JSONWebKeySet>('/openid/v1/jwks');
    const { jwks } = await documents(ctx.serviceAccount.publicKey);
    expect(jwks).toEqual(served);
    expect((await documents(ctx.serviceAccount.signingKey)).jwks).toEqual(served);
  });

  it('writes a discovery document that agrees with the API server’s, pointing at <issuer>/keys.json', async () => {
    const served = await apiServerJson<Discovery>('/.well-known/openid-configuration');
    const { discovery } = await documents(ctx.serviceAccount.publicKey);
    expect(discovery).toMatchObject({
      issuer: served.issuer,
      jwks_uri: `${ctx.serviceAccount.issuer}/keys.json`,
      response_types_supported: served.response_types_supported,
      subject_types_supported: served.subject_types_supported,
      id_token_signing_alg_values_supported: served.id_token_signing_alg_values_supported,
    });
  });

  it('verifies a TokenRequest token: its kid is in keys.json and its issuer is the discovery document’s', async () => {
    const { discovery, jwks } = await documents(ctx.serviceAccount.publicKey);
    const minted = await core.createNamespacedServiceAccountToken({
      name: 'app',
      namespace: ns.name,
      body: { spec: { audiences: [DEFAULT_TOKEN_AUDIENCE], expirationSeconds: 3600 } },
    });
    const token = minted.status!.token;
    expect(jwks.keys.map((key) => key.kid)).toContain(decodeProtectedHeader(token).kid);
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: discovery.issuer,
      audience: DEFAULT_TOKEN_AUDIENCE,
    });
    expect(payload.sub).toBe(`system:serviceaccount:${ns.name}:app`);
  });

  it('refuses a file that is not a key with one line naming it, and exit status 1', async () => {
    const out = await mkdtemp(join(ctx.runDir, 'oidc-'));
    const notAKey = join(out, 'sa.pub');
    await writeFile(notAKey, 'not a key\n');
    const result = await oidc([
      '--issuer',
      ctx.serviceAccount.issuer,
      '--public-key',
      notAKey,
      '--output-dir',
      out,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `pod-identity-webhook: ${notAKey}: no PEM block found (expected a public key)\n`,
    );
  });
});
