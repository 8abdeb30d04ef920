// The `sts` command over real HTTP: form POST and GET query, every error code with its status, the
// real AWS SDK for JavaScript parsing the answers, one JSON log line per decision, a JWKS fetched
// over HTTPS with a CA and a bearer token (and fetched again when a key rotates), and HTTPS serving.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, request as httpsRequest, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromWebToken } from '@aws-sdk/credential-providers';
import { exportJWK, SignJWT, type JSONWebKeySet, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSts, type RunningSts, type StsFlags } from '../../src/commands/sts.js';
import { captureLog, type CapturedLog } from '../support/log.js';
import { eksTrustPolicy, ISSUER, PROVIDER } from '../support/sts.js';
import { testCertificates, type TestCertificates } from '../support/tls.js';

const ROLE = 'arn:aws:iam::111122223333:role/s3-reader';
const SUBJECT = 'system:serviceaccount:default:app';
const TRUST_POLICY = eksTrustPolicy(SUBJECT);

const signer = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rotated = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });

async function jwk(key: typeof signer.publicKey, kid: string, alg: string) {
  return { ...(await exportJWK(key)), kid, alg, use: 'sig' };
}

async function token(
  claims: JWTPayload = {},
  key: { privateKey: typeof signer.privateKey } = signer,
  kid = 'k1',
  alg = 'RS256',
): Promise<string> {
  return new SignJWT({ sub: SUBJECT, ...claims })
    .setProtectedHeader({ alg, kid })
    .setIssuer(typeof claims.iss === 'string' ? claims.iss : ISSUER)
    .setAudience(claims.aud ?? 'sts.amazonaws.com')
    .setIssuedAt()
    .setExpirationTime(typeof claims.exp === 'number' ? claims.exp : '1h')
    .sign(key.privateKey);
}

const SDK_ERROR_NAMES: Record<string, string> = { InvalidIdentityToken: 'InvalidIdentityTokenException' };

let dir: string;
let captured: CapturedLog;
let sts: RunningSts;

async function files(): Promise<{ jwks: string; roles: string }> {
  const jwks = join(dir, 'jwks.json');
  await writeFile(jwks, JSON.stringify({ keys: [await jwk(signer.publicKey, 'k1', 'RS256')] }));
  const roles = join(dir, 'roles.yaml');
  await writeFile(roles, `- arn: ${ROLE}\n  trustPolicy: '${JSON.stringify(TRUST_POLICY)}'\n`);
  return { jwks, roles };
}

const base = (overrides: Partial<StsFlags>): StsFlags => ({
  port: 0,
  host: '127.0.0.1',
  issuer: ISSUER,
  roles: '',
  audiences: ['sts.amazonaws.com'],
  logLevel: 'info',
  ...overrides,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sts-'));
  captured = captureLog();
  sts = await startSts(base(await files()), { log: captured.log });
});
afterAll(() => sts?.close());

const form = async (values: Record<string, string>): Promise<URLSearchParams> =>
  new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: ROLE,
    RoleSessionName: 'app',
    WebIdentityToken: await token(),
    ...values,
  });

async function post(
  values: Record<string, string> = {},
): Promise<{ status: number; body: string; requestId: string }> {
  const response = await fetch(sts.url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: (await form(values)).toString(),
  });
  return {
    status: response.status,
    body: await response.text(),
    requestId: response.headers.get('x-amzn-requestid') ?? '',
  };
}

/** The SDK's own STS client, as the credential chain uses it. */
function sdk(webIdentityToken: string, roleArn = ROLE, url = sts.url) {
  return fromWebToken({
    roleArn,
    webIdentityToken,
    roleSessionName: 'sdk-session',
    clientConfig: { endpoint: url, region: 'eu-west-1', maxAttempts: 1 },
  })();
}

const decisions = () => captured.lines.filter((line) => line['msg'] === 'AssumeRoleWithWebIdentity');

describe('sts over HTTP', () => {
  it('logs where it serves', () => {
    expect(captured.lines.find((line) => line['msg'] === 'pod-identity-webhook sts serving')).toMatchObject({
      url: sts.url,
      port: sts.port,
      issuer: ISSUER,
      keys: 1,
      roles: 1,
    });
  });

  it('answers a form POST with credentials in STS’s XML, and logs the decision with its reason', async () => {
    const before = decisions().length;
    const answer = await post();
    expect(answer.status).toBe(200);
    expect(answer.body).toMatch(
      /^<AssumeRoleWithWebIdentityResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/">/,
    );
    expect(answer.body).toContain(`<RequestId>${answer.requestId}</RequestId>`);
    expect(decisions().slice(before)).toEqual([
      expect.objectContaining({
        decision: 'allowed',
        role: ROLE,
        subject: SUBJECT,
        session: 'app',
        requestId: answer.requestId,
        reason: expect.any(String),
      }),
    ]);
  });

  it('answers a GET with the parameters in the query string', async () => {
    const response = await fetch(`${sts.url}/?${(await form({})).toString()}`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<AssumedRoleUser>');
  });

  it('gives the real AWS SDK credentials it parses, with the account of the assumed role', async () => {
    const credentials = await sdk(await token());
    expect(credentials.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(credentials.secretAccessKey).toHaveLength(40);
    expect(credentials.sessionToken).toEqual(expect.any(String));
    expect(credentials.expiration!.getTime() - Date.now()).toBeGreaterThan(3500_000);
    expect(credentials.accountId).toBe('111122223333');
  });

  it.each([
    ['a bad signature', () => token({}, stranger), 400, 'InvalidIdentityToken', 'signature does not verify'],
    [
      'the wrong issuer',
      () => token({ iss: 'https://other.example.com' }),
      400,
      'InvalidIdentityToken',
      'No OpenIDConnect provider found in your account for https://other.example.com',
    ],
    [
      'the wrong audience',
      () => token({ aud: 'vault' }),
      400,
      'InvalidIdentityToken',
      'Incorrect token audience',
    ],
    [
      'an expired token',
      () => token({ exp: Math.floor(Date.now() / 1000) - 60 }),
      400,
      'ExpiredTokenException',
      'Token expired',
    ],
    [
      'another ServiceAccount',
      () => token({ sub: 'system:serviceaccount:other:app' }),
      403,
      'AccessDenied',
      `${PROVIDER}:sub`,
    ],
  ])('refuses %s: %s %s, to curl and to the AWS SDK', async (_what, make, status, code, message) => {
    const jwt = await make();
    const answer = await post({ WebIdentityToken: jwt });
    expect(answer.status).toBe(status);
    expect(answer.body).toContain(`<Code>${code}</Code>`);
    expect(answer.body).toContain('<Type>Sender</Type>');
    expect(answer.body).toContain(message.replace(/"/g, '&quot;'));
    const error = (await sdk(jwt).catch((e: unknown) => e)) as Error & {
      $metadata?: { httpStatusCode?: number };
    };
    // The SDK's STS model maps the wire code InvalidIdentityToken to its InvalidIdentityTokenException.
    expect(error.name).toBe(SDK_ERROR_NAMES[code] ?? code);
    expect(error.message).toContain(message);
    expect(error.$metadata?.httpStatusCode).toBe(status);
    expect(decisions().at(-1)).toMatchObject({ decision: 'denied', code, role: ROLE });
  });

  it('refuses a role it does not know with AccessDenied', async () => {
    const error = (await sdk(await token(), 'arn:aws:iam::111122223333:role/unknown').catch(
      (e: unknown) => e,
    )) as Error;
    expect(error.name).toBe('AccessDenied');
    expect(error.message).toBe(
      'Not authorized to perform sts:AssumeRoleWithWebIdentity: no role arn:aws:iam::111122223333:role/unknown in the roles file',
    );
  });

  it.each([
    [{ RoleSessionName: '' }, "'roleSessionName'"],
    [{ RoleArn: '' }, "'roleArn'"],
    [{ WebIdentityToken: '' }, "'webIdentityToken'"],
    [{ DurationSeconds: '60' }, "'durationSeconds'"],
  ])('refuses %o with ValidationError (400) naming the parameter', async (values, member) => {
    const answer = await post(values);
    expect(answer.status).toBe(400);
    expect(answer.body).toContain('<Code>ValidationError</Code>');
    expect(answer.body).toContain(member.replace(/'/g, '&apos;'));
  });

  it('answers other methods with 405', async () => {
    expect((await fetch(sts.url, { method: 'PUT' })).status).toBe(405);
  });

  it('picks up an edited roles file without a restart', async () => {
    const roles = join(dir, 'roles-edit.yaml');
    await writeFile(roles, '[]');
    const log = captureLog();
    const local = await startSts(base({ jwks: join(dir, 'jwks.json'), roles }), { log: log.log });
    try {
      await expect(sdk(await token(), ROLE, local.url)).rejects.toMatchObject({ name: 'AccessDenied' });
      await writeFile(
        roles,
        JSON.stringify([
          { arn: ROLE, trustPolicy: TRUST_POLICY },
          { arn: `${ROLE}-2`, trustPolicy: TRUST_POLICY },
        ]),
      );
      await expect(sdk(await token(), ROLE, local.url)).resolves.toMatchObject({ accountId: '111122223333' });
    } finally {
      await local.close();
    }
  });
});

describe('sts with its JWKS from a URL, serving HTTPS', () => {
  let tls: TestCertificates;
  let jwksServer: Server;
  let served: JSONWebKeySet;
  const seen: Array<string | undefined> = [];

  beforeAll(async () => {
    tls = await testCertificates('sts-test');
    served = { keys: [await jwk(signer.publicKey, 'k1', 'RS256')] };
    jwksServer = createServer({ cert: tls.cert, key: tls.key }, (request, response) => {
      seen.push(request.headers.authorization);
      if (request.headers.authorization !== 'Bearer jwks-reader') {
        response.writeHead(401).end();
        return;
      }
      response.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(served));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => jwksServer.close(() => resolve())));

  const jwksUrl = () => `https://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/openid/v1/jwks`;

  it('fetches the JWKS with --jwks-ca and --jwks-token-file, fetches it again for a rotated key, and serves HTTPS', async () => {
    const tokenFile = join(dir, 'reader-token');
    await writeFile(tokenFile, 'jwks-reader\n');
    const ca = join(tls.dir, 'ca.crt');
    await writeFile(ca, tls.ca);
    const { roles } = await files();
    const local = await startSts(
      base({
        jwksUrl: jwksUrl(),
        jwksCa: ca,
        jwksTokenFile: tokenFile,
        roles,
        tlsCert: tls.certFile,
        tlsKey: tls.keyFile,
      }),
      { log: captureLog().log },
    );
    try {
      expect(local.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const call = async (jwt: string) => {
        const body = (await form({ WebIdentityToken: jwt })).toString();
        return new Promise<number>((resolve, reject) => {
          const req = httpsRequest(
            local.url,
            { method: 'POST', ca: tls.ca, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
            (res) => {
              res.resume();
              res.on('end', () => resolve(res.statusCode ?? 0));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      };
      expect(await call(await token())).toBe(200);
      // The issuer rotates to an EC key: the token names a kid the cached JWKS lacks.
      served = { keys: [...served.keys, await jwk(rotated.publicKey, 'k2', 'ES256')] };
      expect(await call(await token({}, rotated, 'k2', 'ES256'))).toBe(200);
      expect(seen).toEqual(['Bearer jwks-reader', 'Bearer jwks-reader']);
    } finally {
      await local.close();
    }
  });

  it('says why when the JWKS URL refuses it', async () => {
    const { roles } = await files();
    const ca = join(tls.dir, 'ca.crt');
    await writeFile(ca, tls.ca);
    await expect(
      startSts(base({ jwksUrl: jwksUrl(), jwksCa: ca, roles }), { log: captureLog().log }),
    ).rejects.toThrow(
      /HTTP 401: the API server serves its JWKS to authenticated users \(give --jwks-token-file\)/,
    );
  });

  it('refuses a start without a JWKS, or with two', async () => {
    const { roles, jwks } = await files();
    await expect(startSts(base({ roles }))).rejects.toThrow(
      'give exactly one of --jwks FILE and --jwks-url URL',
    );
    await expect(startSts(base({ roles, jwks, jwksUrl: jwksUrl() }))).rejects.toThrow('give exactly one of');
  });

  it('names a broken roles file at start', async () => {
    const { jwks } = await files();
    const roles = join(dir, 'broken.yaml');
    await writeFile(roles, '- arn: nope\n  trustPolicy: {}\n');
    await expect(startSts(base({ jwks, roles }), { log: captureLog().log })).rejects.toThrow(
      `--roles ${roles}: role 1: arn must be an IAM role ARN`,
    );
  });
});
