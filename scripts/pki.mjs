// Certificate helpers over the openssl CLI, shared by `npm run certs` (development certificates)
// and the tests. Node can verify certificates but not issue them, and openssl is on every machine
// that builds this project, so no crypto library is added for this.
import { execFile } from 'node:child_process';
import { mkdir, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A new P-256 key, unencrypted: small, fast, and accepted by Node, Go and kube-apiserver. */
const NEW_EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

async function openssl(args, options = {}) {
  try {
    await run('openssl', args, options);
  } catch (error) {
    throw new Error(`openssl ${args[0]} failed: ${error.stderr || error.message}`);
  }
}

/** Creates a self-signed CA; returns the paths of its certificate and key. */
export async function createCA(dir, name = 'ca', commonName = 'pod-identity-webhook development CA') {
  await mkdir(dir, { recursive: true });
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  await openssl([
    'req',
    '-x509',
    ...NEW_EC_KEY,
    '-keyout',
    key,
    '-out',
    cert,
    '-days',
    '365',
    '-subj',
    `/CN=${commonName}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { cert, key };
}

/**
 * Issues a certificate signed by `ca`. `hosts` become DNS or IP subject alternative names;
 * `client` makes it a client certificate; `organization` sets O= (Kubernetes groups).
 */
export async function issueCertificate(
  dir,
  name,
  ca,
  { commonName, hosts = [], organization, client = false, days = 365 },
) {
  await mkdir(dir, { recursive: true });
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  const subject = `/CN=${commonName}${organization ? `/O=${organization}` : ''}`;
  const sans = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`));
  const lines = [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${client ? 'clientAuth' : 'serverAuth'}`,
  ];
  if (sans.length > 0) lines.push(`subjectAltName=${sans.join(',')}`);
  await writeFile(ext, `${lines.join('\n')}\n`);
  await openssl(['req', ...NEW_EC_KEY, '-keyout', key, '-out', csr, '-subj', subject]);
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    String(days),
    '-extfile',
    ext,
  ]);
  await rm(csr);
  await rm(ext);
  return { cert, key };
}

/** Creates an RSA private key (PEM) and its public key, e.g. for service-account token signing. */
export async function createRsaKeyPair(dir, name, bits = 2048) {
  await mkdir(dir, { recursive: true });
  const key = join(dir, `${name}.key`);
  const pub = join(dir, `${name}.pub`);
  await openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`, '-out', key]);
  await openssl(['pkey', '-in', key, '-pubout', '-out', pub]);
  return { key, pub };
}
