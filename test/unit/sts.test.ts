// The local STS's decisions, without HTTP: parameters as STS checks them, the roles file, the token
// checks, the trust policy's verdict and the XML in AWS's documented shape.
import { generateKeyPairSync } from 'node:crypto';
import { exportJWK, SignJWT, type JSONWebKeySet, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import {
  answerAssumeRoleWithWebIdentity,
  derivedRoleId,
  parseAssumeRoleWithWebIdentity,
  parseRoleArn,
  parseRoles,
  providerOf,
  RolesFileError,
  StsError,
  temporaryCredentials,
  verifyWebIdentityToken,
  type Role,
  type StsConfig,
} from '../../src/irsa/sts.js';
import { assumeRoleWithWebIdentityXml, errorResponseXml } from '../../src/irsa/sts-xml.js';
import { eksTrustPolicy, ISSUER, PROVIDER } from '../support/sts.js';

const ROLE = 'arn:aws:iam::111122223333:role/team/s3-reader';
const SUBJECT = 'system:serviceaccount:default:my-service-account';
const NOW = new Date('2026-03-01T12:00:00Z');
const now = Math.floor(NOW.getTime() / 1000);
const TRUST_POLICY = eksTrustPolicy(SUBJECT);

const signer = generateKeyPairSync('rsa', { modulusLength: 2048 });
const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwks: JSONWebKeySet = {
  keys: [{ ...(await exportJWK(signer.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }],
};

async function token(
  claims: JWTPayload = {},
  options: { key?: typeof signer; kid?: string } = {},
): Promise<string> {
  return new SignJWT({
    iss: ISSUER,
    sub: SUBJECT,
    aud: ['sts.amazonaws.com'],
    iat: now - 60,
    exp: now + 3600,
    ...claims,
  })
    .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'k1' })
    .sign((options.key ?? signer).privateKey);
}

const roles = (policy: unknown = TRUST_POLICY, extra: Partial<Role> = {}): Map<string, Role> =>
  new Map([
    [
      ROLE,
      { arn: ROLE, trustPolicy: policy, maxSessionDuration: 3600, roleId: 'AROAEXAMPLE1234567890', ...extra },
    ],
  ]);

function config(overrides: Partial<StsConfig> = {}): StsConfig {
  return {
    issuer: ISSUER,
    audiences: ['sts.amazonaws.com'],
    keys: () => Promise.resolve(jwks),
    roles: () => Promise.resolve(roles()),
    now: () => NOW,
    ...overrides,
  };
}

const params = (values: Record<string, string>): URLSearchParams =>
  new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: ROLE,
    RoleSessionName: 'app1',
    ...values,
  });

function stsError(run: () => unknown): StsError {
  try {
    run();
  } catch (error) {
    if (error instanceof StsError) return error;
    throw error;
  }
  throw new Error('no StsError thrown');
}

describe('request parameters', () => {
  it('reads an SDK call, DurationSeconds defaulting to 3600', () => {
    expect(parseAssumeRoleWithWebIdentity(params({ WebIdentityToken: 'abcd' }))).toEqual({
      roleArn: ROLE,
      roleSessionName: 'app1',
      webIdentityToken: 'abcd',
      durationSeconds: 3600,
    });
  });

  it.each([
    ['RoleArn', 'roleArn'],
    ['RoleSessionName', 'roleSessionName'],
    ['WebIdentityToken', 'webIdentityToken'],
    ['Version', 'version'],
  ])('refuses a call without %s with ValidationError naming it', (name, member) => {
    const p = params({ WebIdentityToken: 'abcd' });
    p.delete(name);
    const error = stsError(() => parseAssumeRoleWithWebIdentity(p));
    expect(error).toMatchObject({ code: 'ValidationError', status: 400 });
    expect(error.message).toBe(
      `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`,
    );
  });

  it.each([
    [
      { RoleSessionName: 'has space' },
      "at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern",
    ],
    [
      { RoleSessionName: 'x' },
      "Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2",
    ],
    [{ RoleSessionName: 'x'.repeat(65) }, 'Member must have length less than or equal to 64'],
    [
      { DurationSeconds: '899' },
      "Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
    ],
    [{ DurationSeconds: '43201' }, 'Member must have value less than or equal to 43200'],
    [{ DurationSeconds: '1h' }, "Value '1h' at 'durationSeconds'"],
    [{ RoleArn: 'arn:aws:iam::111122223333:user/alice' }, 'Request ARN is invalid'],
    [{ WebIdentityToken: 'abc' }, "at 'webIdentityToken' failed to satisfy constraint"],
  ])('refuses %o with ValidationError', (values, message) => {
    const error = stsError(() =>
      parseAssumeRoleWithWebIdentity(params({ WebIdentityToken: 'abcd', ...values })),
    );
    expect(error.code).toBe('ValidationError');
    expect(error.message).toContain(message);
  });

  it('answers another action or version with InvalidAction', () => {
    expect(stsError(() => parseAssumeRoleWithWebIdentity(params({ Action: 'AssumeRole' })))).toMatchObject({
      code: 'InvalidAction',
      message:
        'Could not find operation AssumeRole for version 2011-06-15 (this STS answers AssumeRoleWithWebIdentity only)',
    });
    expect(stsError(() => parseAssumeRoleWithWebIdentity(params({ Version: '2010-01-01' }))).code).toBe(
      'InvalidAction',
    );
  });

  it('reads role ARNs with a path and in other partitions', () => {
    expect(parseRoleArn(ROLE)).toEqual({ partition: 'aws', account: '111122223333', name: 's3-reader' });
    expect(parseRoleArn('arn:aws-cn:iam::123456789012:role/r')).toEqual({
      partition: 'aws-cn',
      account: '123456789012',
      name: 'r',
    });
    expect(parseRoleArn('arn:aws:iam::1234:role/r')).toBeUndefined();
  });
});

describe('the roles file', () => {
  it('reads a YAML list with the policy as an object or as its JSON text', () => {
    const text = `
- arn: ${ROLE}
  trustPolicy:
    Version: '2012-10-17'
    Statement: []
- arn: arn:aws:iam::111122223333:role/other
  trustPolicy: '${JSON.stringify(TRUST_POLICY)}'
  maxSessionDuration: 43200
  roleId: AROAOTHER
`;
    const parsed = parseRoles(text, 'roles.yaml');
    expect([...parsed.keys()]).toEqual([ROLE, 'arn:aws:iam::111122223333:role/other']);
    expect(parsed.get(ROLE)).toEqual({
      arn: ROLE,
      trustPolicy: { Version: '2012-10-17', Statement: [] },
      maxSessionDuration: 3600,
      roleId: derivedRoleId(ROLE),
    });
    expect(parsed.get('arn:aws:iam::111122223333:role/other')).toMatchObject({
      trustPolicy: TRUST_POLICY,
      maxSessionDuration: 43200,
      roleId: 'AROAOTHER',
    });
  });

  it('reads JSON, also as {roles: [...]}', () => {
    const text = JSON.stringify({ roles: [{ arn: ROLE, trustPolicy: TRUST_POLICY }] });
    expect(parseRoles(text, 'roles.json').get(ROLE)?.trustPolicy).toEqual(TRUST_POLICY);
  });

  it('derives a stable role ID shaped as IAM’s', () => {
    expect(derivedRoleId(ROLE)).toMatch(/^AROA[A-Z2-7]{17}$/);
    expect(derivedRoleId(ROLE)).toBe(derivedRoleId(ROLE));
    expect(derivedRoleId(ROLE)).not.toBe(derivedRoleId(`${ROLE}2`));
  });

  it.each([
    ['{}', 'roles.yaml: expected a list of {arn, trustPolicy} entries'],
    ['- 1', 'roles.yaml: role 1: expected an object with arn and trustPolicy'],
    ['- arn: arn:aws:iam::1:role/x\n  trustPolicy: {}', 'roles.yaml: role 1: arn must be an IAM role ARN'],
    [`- arn: ${ROLE}\n  trustPolicy: "{"`, `roles.yaml: role 1 (${ROLE}): trustPolicy is not JSON`],
    [`- arn: ${ROLE}`, `roles.yaml: role 1 (${ROLE}): trustPolicy must be a policy document`],
    [
      `- arn: ${ROLE}\n  trustPolicy: {}\n  maxSessionDuration: 60`,
      'maxSessionDuration must be a whole number of seconds from 3600 to 43200',
    ],
    [
      `- arn: ${ROLE}\n  trustPolicy: {}\n- arn: ${ROLE}\n  trustPolicy: {}`,
      `roles.yaml: role 2: ${ROLE} is listed twice`,
    ],
    ['a: [', 'roles.yaml: not YAML or JSON'],
  ])('refuses %j, naming the file and entry', (text, message) => {
    expect(() => parseRoles(text, 'roles.yaml')).toThrow(RolesFileError);
    expect(() => parseRoles(text, 'roles.yaml')).toThrow(message);
  });
});

describe('the web identity token', () => {
  const check = (overrides = {}) => ({
    issuer: ISSUER,
    audiences: ['sts.amazonaws.com'],
    keys: () => Promise.resolve(jwks),
    now: NOW,
    ...overrides,
  });

  it('verifies signature, issuer, expiry and audience, and names the matching audience', async () => {
    await expect(
      verifyWebIdentityToken(await token({ aud: ['other', 'sts.amazonaws.com'] }), check()),
    ).resolves.toMatchObject({
      issuer: ISSUER,
      subject: SUBJECT,
      audiences: ['other', 'sts.amazonaws.com'],
      audience: 'sts.amazonaws.com',
    });
  });

  it.each([
    [
      'another key’s signature',
      () => token({}, { key: other }),
      'InvalidIdentityToken',
      "The token's signature does not verify with the JWKS of https://oidc.example.com/id/ABC",
    ],
    [
      'an unknown kid',
      () => token({}, { kid: 'nope' }),
      'InvalidIdentityToken',
      'No key in the JWKS of https://oidc.example.com/id/ABC matches the token\'s kid "nope"',
    ],
    [
      'another issuer',
      () => token({ iss: 'https://elsewhere.example.com' }),
      'InvalidIdentityToken',
      'No OpenIDConnect provider found in your account for https://elsewhere.example.com',
    ],
    [
      'the issuer with a trailing slash',
      () => token({ iss: `${ISSUER}/` }),
      'InvalidIdentityToken',
      'No OpenIDConnect provider found',
    ],
    [
      'an expired token',
      () => token({ exp: now - 1 }),
      'ExpiredTokenException',
      'Token expired: current date/time 2026-03-01T12:00:00.000Z must be before the expiration date/time 2026-03-01T11:59:59.000Z',
    ],
    [
      'another audience',
      () => token({ aud: 'vault' }),
      'InvalidIdentityToken',
      'Incorrect token audience: ["vault"] holds none of the OIDC provider\'s client IDs ["sts.amazonaws.com"]',
    ],
    [
      'a token not yet valid',
      () => token({ nbf: now + 600 }),
      'InvalidIdentityToken',
      "The token's nbf claim is not acceptable",
    ],
    [
      'no exp',
      () => token({ exp: undefined }),
      'InvalidIdentityToken',
      "The token's exp claim is not acceptable",
    ],
    [
      'no sub',
      () => token({ sub: undefined }),
      'InvalidIdentityToken',
      'The web identity token has no sub claim',
    ],
    [
      'not a JWT',
      () => Promise.resolve('abcd.efgh'),
      'InvalidIdentityToken',
      'The web identity token is not a JWT',
    ],
  ])('refuses %s', async (_what, make, code, message) => {
    const error = await verifyWebIdentityToken(await make(), check()).then(
      () => undefined,
      (e: unknown) => e as StsError,
    );
    expect(error).toBeInstanceOf(StsError);
    expect(error).toMatchObject({ code, status: 400 });
    expect(error?.message).toContain(message);
  });

  it('refuses an unsigned (alg none) token', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none', kid: 'k1' })).toString('base64url');
    const body = Buffer.from(
      JSON.stringify({ iss: ISSUER, sub: SUBJECT, aud: 'sts.amazonaws.com', exp: now + 60 }),
    ).toString('base64url');
    await expect(verifyWebIdentityToken(`${header}.${body}.`, check())).rejects.toMatchObject({
      code: 'InvalidIdentityToken',
    });
  });

  it('fetches the keys again once when the token names a key it does not know (rotation)', async () => {
    let refreshed = 0;
    const rotated = await token({}, { key: other, kid: 'k2' });
    const otherJwks: JSONWebKeySet = {
      keys: [{ ...(await exportJWK(other.publicKey)), kid: 'k2', alg: 'RS256' }],
    };
    const result = await verifyWebIdentityToken(
      rotated,
      check({ refreshKeys: () => (refreshed++, Promise.resolve(otherJwks)) }),
    );
    expect(result.subject).toBe(SUBJECT);
    expect(refreshed).toBe(1);
  });
});

describe('AssumeRoleWithWebIdentity', () => {
  it('returns credentials and the assumed-role user for a token the trust policy accepts', async () => {
    const answer = await answerAssumeRoleWithWebIdentity(
      params({ WebIdentityToken: await token(), DurationSeconds: '900' }),
      config(),
      'req-1',
    );
    expect(answer.status).toBe(200);
    expect(answer.decision).toMatchObject({
      requestId: 'req-1',
      decision: 'allowed',
      role: ROLE,
      session: 'app1',
      subject: SUBJECT,
    });
    expect(answer.decision.reason).toEqual(expect.any(String));
    expect(answer.body).toContain('<Arn>arn:aws:sts::111122223333:assumed-role/s3-reader/app1</Arn>');
    expect(answer.body).toContain('<AssumedRoleId>AROAEXAMPLE1234567890:app1</AssumedRoleId>');
    expect(answer.body).toContain(`<SubjectFromWebIdentityToken>${SUBJECT}</SubjectFromWebIdentityToken>`);
    expect(answer.body).toContain('<Audience>sts.amazonaws.com</Audience>');
    expect(answer.body).toContain(`<Provider>${PROVIDER}</Provider>`);
    expect(answer.body).toContain('<Expiration>2026-03-01T12:15:00Z</Expiration>');
    expect(answer.body).toMatch(/<AccessKeyId>ASIA[A-Z2-7]{16}<\/AccessKeyId>/);
    expect(answer.body).toContain('<RequestId>req-1</RequestId>');
  });

  it('uses the partition of the role ARN', async () => {
    const cnRole = 'arn:aws-cn:iam::111122223333:role/r';
    const policy = JSON.parse(
      JSON.stringify(TRUST_POLICY).replace('arn:aws:iam', 'arn:aws-cn:iam'),
    ) as unknown;
    const answer = await answerAssumeRoleWithWebIdentity(
      params({ RoleArn: cnRole, WebIdentityToken: await token() }),
      config({
        roles: () =>
          Promise.resolve(
            new Map([
              [cnRole, { arn: cnRole, trustPolicy: policy, maxSessionDuration: 3600, roleId: 'AROACN' }],
            ]),
          ),
      }),
    );
    expect(answer.status, answer.body).toBe(200);
    expect(answer.body).toContain('<Arn>arn:aws-cn:sts::111122223333:assumed-role/r/app1</Arn>');
  });

  it('refuses a ServiceAccount the trust policy does not name: AccessDenied, 403, the :sub condition named', async () => {
    const answer = await answerAssumeRoleWithWebIdentity(
      params({ WebIdentityToken: await token({ sub: 'system:serviceaccount:other:my-service-account' }) }),
      config(),
    );
    expect(answer.status).toBe(403);
    expect(answer.body).toContain('<Code>AccessDenied</Code>');
    expect(answer.body).toContain('Not authorized to perform sts:AssumeRoleWithWebIdentity: ');
    expect(answer.decision).toMatchObject({
      decision: 'denied',
      code: 'AccessDenied',
      subject: 'system:serviceaccount:other:my-service-account',
      role: ROLE,
    });
    expect(answer.decision.reason).toContain(`${PROVIDER}:sub`);
  });

  it('refuses a role the roles file does not have', async () => {
    const answer = await answerAssumeRoleWithWebIdentity(
      params({ RoleArn: 'arn:aws:iam::111122223333:role/missing', WebIdentityToken: await token() }),
      config(),
    );
    expect(answer.status).toBe(403);
    expect(answer.decision.reason).toBe(
      'Not authorized to perform sts:AssumeRoleWithWebIdentity: no role arn:aws:iam::111122223333:role/missing in the roles file',
    );
  });

  it('refuses a duration above the role’s MaxSessionDuration', async () => {
    const answer = await answerAssumeRoleWithWebIdentity(
      params({ WebIdentityToken: await token(), DurationSeconds: '7200' }),
      config(),
    );
    expect(answer.status).toBe(400);
    expect(answer.decision).toMatchObject({ code: 'ValidationError' });
    expect(answer.decision.reason).toContain('exceeds the MaxSessionDuration set for this role (3600)');
  });

  it('logs the subject of a token it refuses', async () => {
    const answer = await answerAssumeRoleWithWebIdentity(
      params({ WebIdentityToken: await token({ exp: now - 10 }) }),
      config(),
    );
    expect(answer.decision).toMatchObject({
      decision: 'denied',
      code: 'ExpiredTokenException',
      subject: SUBJECT,
    });
  });
});

describe('the XML', () => {
  it('is AWS’s AssumeRoleWithWebIdentityResponse, element for element', () => {
    const xml = assumeRoleWithWebIdentityXml(
      {
        credentials: {
          accessKeyId: 'ASIAIOSFODNN7EXAMPLE',
          secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY',
          sessionToken: 'AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE',
          expiration: new Date('2014-10-24T23:00:23.000Z'),
        },
        subjectFromWebIdentityToken: 'amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A',
        assumedRoleUser: {
          arn: 'arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1',
          assumedRoleId: 'AROACLKWSDQRAOEXAMPLE:app1',
        },
        provider: 'www.amazon.com',
        audience: 'client.5498841531868486423.1548@apps.example.com',
      },
      'ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE',
    );
    // The example response of the STS API reference (AssumeRoleWithWebIdentity), without SourceIdentity.
    expect(xml.replace(/\s+</g, '<').trim()).toBe(
      [
        '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">',
        '<AssumeRoleWithWebIdentityResult>',
        '<SubjectFromWebIdentityToken>amzn1.account.AF6RHO7KZU5XRVQJGXK6HB56KR2A</SubjectFromWebIdentityToken>',
        '<Audience>client.5498841531868486423.1548@apps.example.com</Audience>',
        '<AssumedRoleUser>',
        '<Arn>arn:aws:sts::123456789012:assumed-role/FederatedWebIdentityRole/app1</Arn>',
        '<AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1</AssumedRoleId>',
        '</AssumedRoleUser>',
        '<Credentials>',
        '<SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE</SessionToken>',
        '<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>',
        '<Expiration>2014-10-24T23:00:23Z</Expiration>',
        '<AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>',
        '</Credentials>',
        '<Provider>www.amazon.com</Provider>',
        '</AssumeRoleWithWebIdentityResult>',
        '<ResponseMetadata>',
        '<RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>',
        '</ResponseMetadata>',
        '</AssumeRoleWithWebIdentityResponse>',
      ].join(''),
    );
  });

  it('is AWS’s ErrorResponse for errors, with the message escaped', () => {
    const xml = errorResponseXml({ code: 'AccessDenied', message: 'a <b> & "c"' }, 'r-1');
    expect(xml.replace(/\s+</g, '<').trim()).toBe(
      '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code>' +
        '<Message>a &lt;b&gt; &amp; &quot;c&quot;</Message></Error><RequestId>r-1</RequestId></ErrorResponse>',
    );
  });

  it('names the provider as IAM does: the issuer without its scheme', () => {
    expect(providerOf('https://oidc.eks.eu-west-1.amazonaws.com/id/ABC/')).toBe(
      'oidc.eks.eu-west-1.amazonaws.com/id/ABC',
    );
  });

  it('makes credentials shaped as STS’s', () => {
    const c = temporaryCredentials(NOW);
    expect(c.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(c.secretAccessKey).toHaveLength(40);
    expect(temporaryCredentials(NOW).accessKeyId).not.toBe(c.accessKeyId);
  });
});
