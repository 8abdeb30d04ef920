// values.schema.json rejects bad values before anything renders, and its message names the key.
import { describe, expect, it } from 'vitest';
import { chartDir, helm } from './harness.js';

interface BadValues {
  name: string;
  /** helm --set / --set-string arguments. */
  args: string[];
  /** Every one must appear in helm's message: where the problem is, and what. */
  message: RegExp[];
}

const cases: BadValues[] = [
  {
    name: 'unknown top-level key',
    args: ['--set', 'replicas=3'],
    message: [/at '': additional properties 'replicas' not allowed/],
  },
  {
    name: 'unknown nested key',
    args: ['--set', 'config.logLevell=debug'],
    message: [/at '\/config': additional properties 'logLevell' not allowed/],
  },
  {
    name: 'unknown key under certificates',
    args: ['--set', 'certificates.builtin.validity=24h'],
    message: [/at '\/certificates\/builtin': additional properties 'validity' not allowed/],
  },
  {
    name: 'wrong type: a string for an integer',
    args: ['--set-string', 'replicaCount=two'],
    message: [/at '\/replicaCount': got string, want integer/],
  },
  {
    name: 'wrong type: a string for a boolean',
    args: ['--set-string', 'config.stsRegionalEndpoint=yes'],
    message: [/at '\/config\/stsRegionalEndpoint': got string, want boolean/],
  },
  {
    name: 'bad enum value: failurePolicy',
    args: ['--set', 'mutatingWebhook.failurePolicy=Sometimes'],
    message: [/at '\/mutatingWebhook\/failurePolicy'/, /Ignore/, /Fail/],
  },
  {
    name: 'bad enum value: certificates.mode',
    args: ['--set', 'certificates.mode=selfSigned'],
    message: [/at '\/certificates\/mode'/, /builtin/],
  },
  {
    name: 'bad enum value: config.logLevel',
    args: ['--set', 'config.logLevel=verbose'],
    message: [/at '\/config\/logLevel'/],
  },
  {
    name: 'bad duration: no unit',
    args: ['--set-string', 'config.shutdownDelay=2'],
    message: [/at '\/config\/shutdownDelay'/],
  },
  {
    name: 'bad duration: not a Go duration',
    args: ['--set', 'certificates.builtin.caValidity=5years'],
    message: [/at '\/certificates\/builtin\/caValidity'/],
  },
  {
    name: 'certificates.mode=existingSecret without caBundle',
    args: ['--set', 'certificates.mode=existingSecret', '--set', 'certificates.existingSecret.name=my-tls'],
    // A template `fail` or an if/then in the schema: either way, the full key path.
    message: [/certificates[./]existingSecret[./]caBundle/],
  },
];

describe('values.schema.json', () => {
  it('accepts the values of these cases when they are right (the control)', async () => {
    const result = await helm([
      'template',
      'schema',
      chartDir,
      '--set',
      'replicaCount=3',
      '--set',
      'config.logLevel=debug',
      '--set',
      'config.shutdownDelay=3s',
      '--set',
      'mutatingWebhook.failurePolicy=Fail',
    ]);
    expect(result.code, result.stderr).toBe(0);
  });

  it.each(cases)('rejects $name, naming the key', async ({ args, message }) => {
    const result = await helm(['template', 'schema', chartDir, ...args]);
    expect(result.code, `${result.command} succeeded`).not.toBe(0);
    for (const pattern of message) expect(result.stderr).toMatch(pattern);
  });
});
