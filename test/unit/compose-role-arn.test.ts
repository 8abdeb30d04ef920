// `--compose-role-arn`: the partition of a region, the composed ARN, and the account and region from
// the flags or the EC2 instance metadata service (IMDSv2), against a local stand-in server.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { partitionOf, resolveMutationOptions } from '../../src/identity/options.js';
import { composeRoleArn, resolveIdentity } from '../../src/identity/rules.js';
import { fixturesNamed } from '../support/fixtures.js';
import { composeRoleArnOptions, imdsEndpoint, instanceIdentity, IMDS_ENDPOINT } from '../../src/cli/imds.js';

describe('partitionOf', () => {
  it.each([
    ['us-east-1', 'aws'],
    ['eu-west-1', 'aws'],
    ['ap-southeast-4', 'aws'],
    ['cn-north-1', 'aws-cn'],
    ['cn-northwest-1', 'aws-cn'],
    ['us-gov-west-1', 'aws-us-gov'],
    ['us-gov-east-1', 'aws-us-gov'],
    ['us-iso-east-1', 'aws-iso'],
    ['us-isob-east-1', 'aws-iso-b'],
    ['eusc-de-east-1', 'aws-eusc'],
    ['', 'aws'],
  ])('%s is in %s', (region, partition) => expect(partitionOf(region)).toBe(partition));
});

describe('composeRoleArn', () => {
  const where = { awsPartition: 'aws-us-gov', awsAccountId: '111122223333' };
  it.each([
    ['a role name', 'app', 'arn:aws-us-gov:iam::111122223333:role/app'],
    ['a path and name', 'team/batch/app', 'arn:aws-us-gov:iam::111122223333:role/team/batch/app'],
    ['a leading slash', '/team/app', 'arn:aws-us-gov:iam::111122223333:role/team/app'],
    ['a full ARN, untouched', 'arn:aws:iam::999999999999:role/x', 'arn:aws:iam::999999999999:role/x'],
  ])('%s', (_case, value, arn) => expect(composeRoleArn(value, where)).toBe(arn));

  it('composes the ServiceAccount’s annotation only with the option on', () => {
    const serviceAccount = { 'eks.amazonaws.com/role-arn': 'app' };
    const on = resolveMutationOptions({
      composeRoleArn: true,
      awsAccountId: '111122223333',
      awsPartition: 'aws',
    });
    expect(resolveIdentity({ serviceAccount, pod: {} }, on.options).identity?.roleArn).toBe(
      'arn:aws:iam::111122223333:role/app',
    );
    const off = resolveIdentity({ serviceAccount, pod: {} }, resolveMutationOptions({}).options);
    expect(off.identity?.roleArn).toBe('app');
    expect(off.warnings).toEqual([
      'role ARN "app" does not look like arn:<partition>:iam::<12-digit account>:role/<name>; injected as given',
    ]);
  });

  it.each([
    [
      { composeRoleArn: true, awsPartition: 'aws' },
      /--compose-role-arn needs the account ID and the partition/,
    ],
    [{ composeRoleArn: true, awsAccountId: '111122223333' }, /--compose-role-arn needs the account ID/],
    [{ awsAccountId: '1234' }, /--aws-account-id must be 12 digits, got "1234"/],
    [{ awsPartition: 'azure' }, /partition must be aws or aws-<name>/],
  ])('refuses %j', (given, message) => expect(() => resolveMutationOptions(given)).toThrow(message));
});

describe('the instance metadata service', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((done) => (server ? server.close(done) : done(undefined)));
    server = undefined;
  });

  /** A stand-in IMDS: records each request; `handle` answers it. */
  async function imds(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{
    endpoint: string;
    requests: Array<{ method?: string; url?: string; headers: IncomingMessage['headers'] }>;
  }> {
    const requests: Array<{ method?: string; url?: string; headers: IncomingMessage['headers'] }> = [];
    server = createServer((req, res) => {
      requests.push({ method: req.method, url: req.url, headers: req.headers });
      handle(req, res);
    });
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', done));
    return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, requests };
  }

  const IDENTITY = { accountId: '444455556666', region: 'cn-northwest-1', instanceId: 'i-0abc' };
  const working = (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === 'PUT' && req.url === '/latest/api/token') return void res.end('TOKEN-1');
    if (
      req.method === 'GET' &&
      req.url === '/latest/dynamic/instance-identity/document' &&
      req.headers['x-aws-ec2-metadata-token'] === 'TOKEN-1'
    ) {
      return void res.end(JSON.stringify(IDENTITY));
    }
    res.statusCode = 401;
    res.end();
  };

  it('gets a token (PUT with a TTL), then the identity document with it', async () => {
    const { endpoint, requests } = await imds(working);
    expect(await instanceIdentity({ endpoint })).toEqual({
      accountId: '444455556666',
      region: 'cn-northwest-1',
    });
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      'PUT /latest/api/token',
      'GET /latest/dynamic/instance-identity/document',
    ]);
    expect(requests[0]?.headers['x-aws-ec2-metadata-token-ttl-seconds']).toBe('21600');
  });

  it('composes from it what the flags leave out: the partition from the region', async () => {
    const { endpoint } = await imds(working);
    const ask = () => instanceIdentity({ endpoint });
    const given = { composeRoleArn: true, awsAccountId: '', awsDefaultRegion: '' };
    expect(await composeRoleArnOptions(given, ask)).toEqual({
      composeRoleArn: true,
      awsAccountId: '444455556666',
      awsPartition: 'aws-cn',
    });
    expect(await composeRoleArnOptions({ ...given, awsDefaultRegion: 'us-gov-west-1' }, ask)).toEqual({
      composeRoleArn: true,
      awsAccountId: '444455556666',
      awsPartition: 'aws-us-gov',
    });
  });

  it('is not asked when the flags give both, nor when the option is off', async () => {
    const never = () => Promise.reject(new Error('asked'));
    const given = { composeRoleArn: true, awsAccountId: '111122223333', awsDefaultRegion: 'eusc-de-east-1' };
    expect(await composeRoleArnOptions(given, never)).toEqual({
      composeRoleArn: true,
      awsAccountId: '111122223333',
      awsPartition: 'aws-eusc',
    });
    expect(await composeRoleArnOptions({ ...given, composeRoleArn: false }, never)).toMatchObject({
      composeRoleArn: false,
      awsPartition: '',
    });
  });

  it.each<[string, (req: IncomingMessage, res: ServerResponse) => void, RegExp]>([
    [
      'a refused token',
      (_req, res) => {
        res.statusCode = 403;
        res.end('Forbidden');
      },
      /^instance metadata service: getting an IMDSv2 token \(PUT http:\/\/127\.0\.0\.1:\d+\/latest\/api\/token\) failed: HTTP 403 Forbidden$/,
    ],
    [
      'a missing document',
      (req, res) => {
        if (req.method === 'PUT') return void res.end('T');
        res.statusCode = 404;
        res.end();
      },
      /^instance metadata service: reading the instance identity document \(GET .+\) failed: HTTP 404$/,
    ],
    [
      'a document that is not JSON',
      (req, res) => res.end(req.method === 'PUT' ? 'T' : '<html>'),
      /^instance metadata service: the instance identity document is not JSON: /,
    ],
    [
      'a document without a region',
      (req, res) => res.end(req.method === 'PUT' ? 'T' : '{"accountId":"444455556666"}'),
      /has no accountId or region$/,
    ],
    ['no answer', () => {}, /getting an IMDSv2 token \(PUT .+\) failed: no answer within 200ms$/],
  ])('names what failed: %s', async (_case, handle, message) => {
    const { endpoint } = await imds(handle);
    await expect(instanceIdentity({ endpoint, timeoutMs: 200 })).rejects.toThrow(message);
  });

  it('fails --compose-role-arn saying what to give instead', async () => {
    const failing = () =>
      Promise.reject(new Error('instance metadata service: getting an IMDSv2 token failed'));
    await expect(
      composeRoleArnOptions(
        { composeRoleArn: true, awsAccountId: '', awsDefaultRegion: 'eu-west-1' },
        failing,
      ),
    ).rejects.toThrow(
      /^--compose-role-arn needs the account ID and region: give --aws-account-id and --aws-default-region, or run where the instance metadata service answers \(instance metadata service: /,
    );
  });

  it('takes its endpoint from AWS_EC2_METADATA_SERVICE_ENDPOINT, as the AWS SDKs do', () => {
    expect(imdsEndpoint({ AWS_EC2_METADATA_SERVICE_ENDPOINT: 'http://127.0.0.1:1338' })).toBe(
      'http://127.0.0.1:1338',
    );
    expect(imdsEndpoint({})).toBe(IMDS_ENDPOINT);
  });
});

describe('mutate --compose-role-arn, the account and region from a stand-in instance metadata service', () => {
  it('composes the fixture’s ARN', async () => {
    const [fixture] = fixturesNamed('compose-role-arn');
    const server = createServer((req, res) =>
      res.end(
        req.method === 'PUT' ? 'T' : JSON.stringify({ accountId: '111122223333', region: 'us-east-1' }),
      ),
    );
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const stdout = await new Promise<string>((done, fail) =>
        execFile(
          process.execPath,
          [
            new URL('../../dist/cli/main.js', import.meta.url).pathname,
            'mutate',
            join(fixture!.dir, 'review.json'),
            '--output=pod',
            `--service-accounts=${fixture!.serviceAccountsFile}`,
            '--compose-role-arn',
          ],
          { env: { ...process.env, AWS_EC2_METADATA_SERVICE_ENDPOINT: endpoint } },
          (error, out) => (error ? fail(error) : done(out)),
        ),
      );
      expect(JSON.parse(stdout)).toEqual(fixture!.expectedPod);
    } finally {
      await new Promise((done) => server.close(done));
    }
  });
});
