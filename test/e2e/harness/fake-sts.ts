// A stand-in for AWS STS on loopback: the real one cannot be reached from here. It does what STS
// does for AssumeRoleWithWebIdentity, verifying the token against the issuer's JWKS and the trust
// policy's aud and sub, and answers in STS's XML so the real AWS SDK can parse it.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';

export interface StsCall {
  action: string | null;
  roleArn: string | null;
  roleSessionName: string | null;
  webIdentityToken: string | null;
  /** The token's verified subject, or the reason it was rejected. */
  subject?: string;
  rejected?: string;
}

export interface FakeSts {
  url: string;
  calls: StsCall[];
  close(): Promise<void>;
}

export interface TrustPolicy {
  issuer: string;
  jwks: JSONWebKeySet;
  audience: string;
  subject: string;
}

export const FAKE_ACCESS_KEY_ID = 'ASIAE2ETESTFAKESTS01';

export async function startFakeSts(trust: TrustPolicy): Promise<FakeSts> {
  const calls: StsCall[] = [];
  const keys = createLocalJWKSet(trust.jwks);
  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const form = new URLSearchParams(body);
      const call: StsCall = {
        action: form.get('Action'),
        roleArn: form.get('RoleArn'),
        roleSessionName: form.get('RoleSessionName'),
        webIdentityToken: form.get('WebIdentityToken'),
      };
      calls.push(call);
      jwtVerify(call.webIdentityToken ?? '', keys, {
        issuer: trust.issuer,
        audience: trust.audience,
        subject: trust.subject,
      }).then(
        ({ payload }) => {
          call.subject = payload.sub;
          response.writeHead(200, { 'content-type': 'text/xml' }).end(assumed(call, trust));
        },
        (error: Error) => {
          call.rejected = error.message;
          response
            .writeHead(400, { 'content-type': 'text/xml' })
            .end(
              `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code><Message>${error.message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
            );
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function assumed(call: StsCall, trust: TrustPolicy): string {
  const role = (call.roleArn ?? '').split('/').pop();
  const expiration = new Date(Date.now() + 3600_000).toISOString();
  return `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>${trust.subject}</SubjectFromWebIdentityToken>
    <Audience>${trust.audience}</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::111122223333:assumed-role/${role}/${call.roleSessionName}</Arn>
      <AssumedRoleId>AROAE2ETEST:${call.roleSessionName}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>e2e-session-token</SessionToken>
      <SecretAccessKey>e2e-secret-access-key</SecretAccessKey>
      <Expiration>${expiration}</Expiration>
      <AccessKeyId>${FAKE_ACCESS_KEY_ID}</AccessKeyId>
    </Credentials>
    <Provider>${trust.issuer}</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`;
}
