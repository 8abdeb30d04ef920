// When and how the built-in CA and serving certificate change. Pure apart from key generation:
// stored state + time + settings in, the next stored state out, so every step can be tested.
//
// The order never leaves kube-apiserver without trust in what a replica serves:
//   1. no usable CA: create a CA and a serving certificate; the bundle is that CA.
//   2. a third of the CA's life left: stage a next CA and add it to the bundle (still serving the
//      old pair). The controller then publishes the bundle to the webhook configuration.
//   3. once the webhook configuration trusts the next CA and `settleMs` has passed (kube-apiserver
//      reads webhook configurations through an informer): promote it and issue a serving
//      certificate from it. The previous CA stays in the bundle until the last certificate it
//      signed expires, so a replica that still serves the old pair is trusted until it cannot be.
//   4. a third of the serving certificate's life left, or its names changed: issue a new one.
import { isIP } from 'node:net';
import { createAuthority, factsOf, isSignedBy, issueServingCertificate, type PemPair } from './authority.js';

export interface StoredCertificates {
  authority?: PemPair;
  serving?: PemPair;
  /** The CAs the webhook configuration must trust, PEM, current first. */
  bundle: string[];
  /** A CA being introduced (step 2), and when it was added to the bundle. */
  next?: PemPair & { stagedAt: Date };
  /** When the previous CA may leave the bundle: the expiry of the last certificate it signed. */
  retirePreviousAfter?: Date;
}

export interface RotationSettings {
  /** DNS names (and IPs) of the serving certificate: the Service's names. */
  hosts: string[];
  caValidityMs: number;
  certificateValidityMs: number;
  /** How long a newly trusted CA waits before it signs what replicas serve. */
  settleMs: number;
}

export type RotationStep =
  | 'create-authority'
  | 'stage-next-authority'
  | 'promote-next-authority'
  | 'renew-serving-certificate'
  | 'retire-previous-authority';

const CA_NAME = 'pod-identity-webhook CA';
/** Renew when this fraction of the lifetime is left. */
const RENEW_AT_REMAINING = 1 / 3;

/** Clocks differ between replicas and kube-apiserver: certificates start a minute early. */
const BACKDATE_MS = 60_000;

function dueForRenewal(pem: string, now: Date): boolean {
  const { notBefore, notAfter } = factsOf(pem);
  const life = notAfter.getTime() - notBefore.getTime() - BACKDATE_MS;
  return notAfter.getTime() - now.getTime() < life * RENEW_AT_REMAINING;
}

/** Readable and not expired. A start in the future is fine: another replica's clock may run ahead. */
function usable(pair: PemPair | undefined, now: Date): pair is PemPair {
  if (pair === undefined) return false;
  try {
    return now < factsOf(pair.cert).notAfter;
  } catch {
    return false;
  }
}

/** IPv6 addresses in one spelling: the certificate says FD00:0:0:0:0:0:0:1 for fd00::1. */
const canonical = (host: string): string =>
  isIP(host) === 6 ? new URL(`http://[${host}]`).hostname.slice(1, -1) : host.toLowerCase();

const sameHosts = (a: string[], b: string[]): boolean => {
  const [x, y] = [a.map(canonical).sort(), b.map(canonical).sort()];
  return x.length === y.length && x.every((host, i) => host === y[i]);
};

/** The one step to take now, or undefined when the stored certificates are as they should be. */
export function nextRotationStep(
  stored: StoredCertificates,
  now: Date,
  settings: RotationSettings,
  /** Fingerprints of the CAs the webhook configuration trusts today. */
  trusted: ReadonlySet<string>,
): RotationStep | undefined {
  const { authority, serving, next } = stored;
  if (!usable(authority, now)) return 'create-authority';
  if (next !== undefined) {
    const settled = now.getTime() - next.stagedAt.getTime() >= settings.settleMs;
    if (settled && trusted.has(factsOf(next.cert).fingerprint)) return 'promote-next-authority';
  } else if (dueForRenewal(authority.cert, now)) {
    return 'stage-next-authority';
  }
  if (
    !usable(serving, now) ||
    !isSignedBy(serving.cert, authority.cert) ||
    dueForRenewal(serving.cert, now) ||
    !sameHosts(factsOf(serving.cert).hosts, settings.hosts)
  ) {
    return 'renew-serving-certificate';
  }
  if (stored.retirePreviousAfter !== undefined && now >= stored.retirePreviousAfter) {
    return 'retire-previous-authority';
  }
  return undefined;
}

/** The stored state after `step`. */
export async function applyRotationStep(
  step: RotationStep,
  stored: StoredCertificates,
  now: Date,
  settings: RotationSettings,
): Promise<StoredCertificates> {
  const serve = (authority: PemPair) => {
    // A certificate never outlives the CA that signed it.
    const caExpiry = factsOf(authority.cert).notAfter.getTime();
    const notAfter = new Date(Math.min(now.getTime() + settings.certificateValidityMs, caExpiry));
    return issueServingCertificate(authority, settings.hosts, backdated(now), notAfter);
  };
  switch (step) {
    case 'create-authority': {
      // Trust stays with what replicas may still serve: every CA of the bundle that has not expired.
      const authority = await newAuthority(now, settings);
      const stillValid = stored.bundle.filter((pem) => usable({ cert: pem, key: '' }, now));
      const previousServing = usable(stored.serving, now) ? factsOf(stored.serving.cert).notAfter : now;
      return {
        authority,
        serving: await serve(authority),
        bundle: [authority.cert, ...stillValid],
        ...(stillValid.length > 0 ? { retirePreviousAfter: previousServing } : {}),
      };
    }
    case 'stage-next-authority': {
      const next = await newAuthority(now, settings);
      return { ...stored, next: { ...next, stagedAt: now }, bundle: [...stored.bundle, next.cert] };
    }
    case 'promote-next-authority': {
      const authority: PemPair = { cert: stored.next!.cert, key: stored.next!.key };
      const previous = stored.serving === undefined ? now : factsOf(stored.serving.cert).notAfter;
      return {
        authority,
        serving: await serve(authority),
        bundle: [authority.cert, ...stored.bundle.filter((pem) => pem !== authority.cert)],
        retirePreviousAfter: previous,
      };
    }
    case 'renew-serving-certificate':
      return { ...stored, serving: await serve(stored.authority!) };
    case 'retire-previous-authority': {
      const keep = new Set([stored.authority!.cert, stored.next?.cert].filter((pem) => pem !== undefined));
      return {
        ...stored,
        retirePreviousAfter: undefined,
        bundle: stored.bundle.filter((pem) => keep.has(pem)),
      };
    }
  }
}

const backdated = (now: Date): Date => new Date(now.getTime() - BACKDATE_MS);

function newAuthority(now: Date, settings: RotationSettings): Promise<PemPair> {
  return createAuthority(CA_NAME, backdated(now), new Date(now.getTime() + settings.caValidityMs));
}
