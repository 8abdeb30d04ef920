// The built-in CA's rotation as a timeline: real certificates, a clock the test moves.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { factsOf, isSignedBy, splitBundle } from '../../src/certificates/authority.js';
import {
  applyRotationStep,
  nextRotationStep,
  type RotationSettings,
  type StoredCertificates,
} from '../../src/certificates/rotation.js';
import { decodeSecret, encodeSecret } from '../../src/certificates/controller.js';

const MINUTE = 60_000;
const settings: RotationSettings = {
  hosts: ['webhook', 'webhook.ns.svc', '127.0.0.1'],
  caValidityMs: 90 * MINUTE,
  certificateValidityMs: 30 * MINUTE,
  settleMs: MINUTE,
};
const T0 = new Date('2026-11-30T00:00:00Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * MINUTE);
const fingerprint = (pem: string) => factsOf(pem).fingerprint;

/** Takes every step due at `now` (trust: what the webhook configuration holds) and returns them. */
async function settle(
  stored: StoredCertificates,
  now: Date,
  trusted: Set<string>,
): Promise<{ stored: StoredCertificates; steps: string[] }> {
  const steps: string[] = [];
  for (let step = nextRotationStep(stored, now, settings, trusted); step;) {
    stored = await applyRotationStep(step, stored, now, settings);
    steps.push(step);
    const next = nextRotationStep(stored, now, settings, trusted);
    step = next === step ? undefined : next;
  }
  return { stored, steps };
}

const trustOf = (stored: StoredCertificates) => new Set(stored.bundle.map(fingerprint));

describe('built-in certificate rotation', () => {
  it('starts with a CA and a serving certificate for the hosts, signed by it and trusted by the bundle', async () => {
    const { stored, steps } = await settle({ bundle: [] }, T0, new Set());
    expect(steps).toEqual(['create-authority']);
    const { authority, serving } = stored;
    expect(new X509Certificate(authority!.cert).ca).toBe(true);
    expect(isSignedBy(serving!.cert, authority!.cert)).toBe(true);
    expect(factsOf(serving!.cert).hosts).toEqual(settings.hosts);
    expect(stored.bundle).toEqual([authority!.cert]);
    expect(await settle(stored, at(1), trustOf(stored))).toMatchObject({ steps: [] });
  });

  it('renews the serving certificate with a third of its life left, from the same CA', async () => {
    const { stored } = await settle({ bundle: [] }, T0, new Set());
    expect(await settle(stored, at(19), trustOf(stored))).toMatchObject({ steps: [] });
    const renewed = await settle(stored, at(21), trustOf(stored));
    expect(renewed.steps).toEqual(['renew-serving-certificate']);
    expect(renewed.stored.serving!.cert).not.toBe(stored.serving!.cert);
    expect(renewed.stored.authority).toEqual(stored.authority);
    expect(renewed.stored.bundle).toEqual(stored.bundle);
  });

  it('rotates the CA in stages: trusted first, signing only once trusted and settled, retired last', async () => {
    let { stored } = await settle({ bundle: [] }, T0, new Set());
    const oldCa = stored.authority!.cert;
    // 60 of 90 minutes: stage the next CA; keep serving from the old one.
    const staged = await settle(stored, at(61), trustOf(stored));
    expect(staged.steps).toContain('stage-next-authority');
    stored = staged.stored;
    expect(stored.bundle).toEqual([oldCa, stored.next!.cert]);
    expect(isSignedBy(stored.serving!.cert, oldCa)).toBe(true);

    // Not yet trusted by the webhook configuration: no promotion, however long it waits.
    const untrusted = new Set([fingerprint(oldCa)]);
    expect((await settle(stored, at(70), untrusted)).stored.authority!.cert).toBe(oldCa);
    // Trusted, but not settled: still no promotion.
    expect((await settle(stored, at(61.5), trustOf(stored))).steps).not.toContain('promote-next-authority');

    const promoted = await settle(stored, at(63), trustOf(stored));
    expect(promoted.steps).toEqual(['promote-next-authority']);
    stored = promoted.stored;
    expect(stored.authority!.cert).not.toBe(oldCa);
    expect(isSignedBy(stored.serving!.cert, stored.authority!.cert)).toBe(true);
    expect(stored.bundle).toEqual([stored.authority!.cert, oldCa]);
    expect(stored.next).toBeUndefined();

    // The old CA stays trusted while a certificate it signed may still be served.
    expect((await settle(stored, at(70), trustOf(stored))).stored.bundle).toContain(oldCa);
    const retired = await settle(stored, stored.retirePreviousAfter!, trustOf(stored));
    expect(retired.steps).toContain('retire-previous-authority');
    expect(retired.stored.bundle).toEqual([stored.authority!.cert]);
  });

  it('never issues a serving certificate that outlives its CA', async () => {
    const { stored } = await settle({ bundle: [] }, T0, new Set());
    const short = await applyRotationStep('renew-serving-certificate', stored, at(80), settings);
    expect(factsOf(short.serving!.cert).notAfter).toEqual(factsOf(stored.authority!.cert).notAfter);
  });

  it.each([
    ['expired', { ...settings }, at(200)],
    ['for other names', { ...settings, hosts: ['other.ns.svc'] }, at(1)],
  ])('replaces a serving certificate that is %s', async (_name, changed, now) => {
    const { stored } = await settle({ bundle: [] }, T0, new Set());
    const step = nextRotationStep(stored, now, changed, trustOf(stored));
    expect(step).toBe(now > at(90) ? 'create-authority' : 'renew-serving-certificate');
  });

  it('starts over from garbage in the Secret', async () => {
    const garbage: StoredCertificates = { authority: { cert: 'not a certificate', key: 'x' }, bundle: [] };
    expect(nextRotationStep(garbage, T0, settings, new Set())).toBe('create-authority');
  });
});

describe('PEM bundles', () => {
  it('end every certificate with a line break, so a concatenated bundle parses anywhere', async () => {
    const stored = await applyRotationStep('create-authority', { bundle: [] }, T0, settings);
    const staged = await applyRotationStep('stage-next-authority', stored, at(61), settings);
    const joined = staged.bundle.join('');
    expect(joined).not.toContain('-----END CERTIFICATE----------BEGIN');
    expect(splitBundle(joined)).toEqual(staged.bundle);
    for (const pem of [...staged.bundle, stored.serving!.cert, stored.serving!.key])
      expect(pem.endsWith('\n')).toBe(true);
  });
});

describe('the Secret that stores them', () => {
  it('round-trips every part of the state, and leaves out what is absent', async () => {
    const created = await applyRotationStep('create-authority', { bundle: [] }, T0, settings);
    const staged = await applyRotationStep('stage-next-authority', created, at(61), settings);
    const promoted = await applyRotationStep('promote-next-authority', staged, at(63), settings);
    for (const stored of [created, staged, promoted]) {
      expect(decodeSecret({ data: encodeSecret(stored) })).toEqual(
        JSON.parse(JSON.stringify(stored), revive),
      );
    }
    expect(Object.keys(encodeSecret(created)).sort()).toEqual([
      'ca-bundle.crt',
      'ca.crt',
      'ca.key',
      'tls.crt',
      'tls.key',
    ]);
    expect(decodeSecret(undefined)).toEqual({ bundle: [] });
  });
});

/** JSON round-trip of the state, with its dates as dates again. */
function revive(key: string, value: unknown): unknown {
  return ['stagedAt', 'retirePreviousAfter'].includes(key) ? new Date(value as string) : value;
}

describe('what the review found', () => {
  it('does not renew forever a certificate for an IPv6 address (written another way in the certificate)', async () => {
    const ipv6 = { ...settings, hosts: ['webhook.ns.svc', 'fd00::1', '::1'] };
    const stored = await applyRotationStep('create-authority', { bundle: [] }, T0, ipv6);
    expect(factsOf(stored.serving!.cert).hosts).toContain('FD00:0:0:0:0:0:0:1');
    expect(nextRotationStep(stored, at(1), ipv6, trustOf(stored))).toBeUndefined();
  });

  it('keeps a CA that starts in the future, as seen by a replica whose clock is behind', async () => {
    const stored = await applyRotationStep('create-authority', { bundle: [] }, T0, settings);
    const twoMinutesBehind = new Date(T0.getTime() - 2 * MINUTE);
    expect(nextRotationStep(stored, twoMinutesBehind, settings, trustOf(stored))).toBeUndefined();
  });

  it('keeps trusting what replicas may still serve when it must start over, and retires it later', async () => {
    const old = await applyRotationStep('create-authority', { bundle: [] }, T0, settings);
    const lostKeys: StoredCertificates = { bundle: old.bundle, serving: old.serving };
    const again = await applyRotationStep('create-authority', lostKeys, at(5), settings);
    expect(again.bundle).toEqual([again.authority!.cert, old.authority!.cert]);
    expect(again.retirePreviousAfter).toEqual(factsOf(old.serving!.cert).notAfter);
  });

  it.each([
    [
      'an unreadable next CA',
      { 'next-ca.crt': 'garbage', 'next-ca.key': 'k', 'next-ca-staged-at': T0.toISOString() },
    ],
    ['a next CA staged at no valid time', { 'next-ca-staged-at': 'yesterday' }],
  ])('drops %s when reading the Secret, so it is staged again', async (_name, data) => {
    const stored = await applyRotationStep('create-authority', { bundle: [] }, T0, settings);
    const staged = await applyRotationStep('stage-next-authority', stored, at(61), settings);
    const encoded = encodeSecret(staged);
    for (const [key, value] of Object.entries(data)) encoded[key] = Buffer.from(value).toString('base64');
    expect(decodeSecret({ data: encoded }).next).toBeUndefined();
  });
});
