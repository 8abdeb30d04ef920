// The built CLI as a user runs it: `node dist/cli/main.js trust-policy [check] ...` (npm test builds first).
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const ISSUER = 'https://oidc.example.com/id/ABC';
const HOST = 'oidc.example.com/id/ABC';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
    );
  });
}

let policy: string;
beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'piw-cli-trust-'));
  policy = join(dir, 'policy.json');
  const printed = await run([
    'trust-policy',
    '--account',
    '111122223333',
    '--issuer',
    ISSUER,
    '--namespace',
    'default',
    '--service-account',
    'app',
  ]);
  expect(printed).toMatchObject({ code: 0, stderr: '' });
  await writeFile(policy, printed.stdout);
});

describe.concurrent('trust-policy', () => {
  it('prints one statement per :sub operator for several ServiceAccounts', async () => {
    const result = await run([
      'trust-policy',
      '--account',
      '111122223333',
      '--issuer',
      ISSUER,
      '--service-account',
      'default/app',
      '--service-account',
      'jobs/*',
    ]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const statements = (
      JSON.parse(result.stdout) as { Statement: { Condition: Record<string, Record<string, string>> }[] }
    ).Statement;
    expect(statements.map((s) => Object.keys(s.Condition))).toEqual([
      ['StringEquals'],
      ['StringEquals', 'StringLike'],
    ]);
    expect(statements[1]!.Condition['StringLike']![`${HOST}:sub`]).toBe('system:serviceaccount:jobs:*');
  });

  it('answers bad input with one line and exit status 1', async () => {
    expect(
      await run(['trust-policy', '--issuer', ISSUER, '--namespace', 'a', '--service-account', 'x']),
    ).toEqual({
      code: 1,
      stdout: '',
      stderr: 'pod-identity-webhook: --account is required (or --provider-arn)\n',
    });
  });

  it.each(['trust-policy', 'trust-policy check'])('%s --help', async (command) => {
    const result = await run([...command.split(' '), '--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: pod-identity-webhook ${command}`);
    expect(result.stdout).toContain('--issuer <url>');
  });
});

describe.concurrent('trust-policy check', () => {
  const check = (...args: string[]) =>
    run(['trust-policy', 'check', '--policy', policy, '--issuer', ISSUER, ...args]);

  it('exits 0 with the reason when the token would be accepted', async () => {
    const result = await check('--namespace', 'default', '--service-account', 'app');
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^allowed: Statement\[0\] allows it/);
  });

  it('exits 1 with the reason naming :sub when refused', async () => {
    const result = await check('--namespace', 'other', '--service-account', 'app');
    expect(result).toEqual({
      code: 1,
      stderr: '',
      stdout: `refused: Statement[0] does not allow it: StringEquals "${HOST}:sub" expects "system:serviceaccount:default:app", but the token's is "system:serviceaccount:other:app"\n`,
    });
  });

  it.each([
    [
      'a missing flag',
      ['--namespace', 'default'],
      'pod-identity-webhook: --service-account is required once for check\n',
    ],
    [
      'an unreadable policy',
      ['--namespace', 'default', '--service-account', 'app', '--policy', '/nonexistent.json'],
      'pod-identity-webhook: /nonexistent.json cannot be read: ENOENT\n',
    ],
  ])('exits 2 on %s, one line on stderr', async (_name, args, stderr) => {
    expect(await check(...args)).toEqual({ code: 2, stdout: '', stderr });
  });

  it('exits 2 on a usage error', async () => {
    const result = await run(['trust-policy', 'check', '--issuer', ISSUER]);
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: "pod-identity-webhook: required option '--policy <file>' not specified\n",
    });
  });
});
