// vitest globalSetup of the e2e project: builds (or reuses) kube-apiserver and etcd, generates a PKI,
// starts etcd and kube-apiserver on free loopback ports, writes an admin kubeconfig and hands all of
// it to the tests with provide('e2e'). The returned teardown stops every process by PID, whether
// the tests passed or not. A loopback control endpoint lets tests restart kube-apiserver.
import { createServer, type Server } from 'node:http';
import { mkdir, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ControlPlane } from './control-plane.js';
import type { E2EContext } from './context.js';
import { httpsRequest } from './https.js';
import { createCA, createRsaKeyPair, issueCertificate } from '../../../scripts/pki.mjs';
import { reapRecorded } from './processes.js';
import { writeKubeconfig } from './kubeconfig.js';
import { repoRoot } from '../../support/paths.js';
import { newRunDir } from '../../support/run-dirs.js';
import { runHackScript } from '../../support/scripts.js';

function log(message: string): void {
  console.log(`[e2e] ${message}`);
}

function startControlServer(controlPlane: ControlPlane): Promise<{ server: Server; url: string }> {
  let queue: Promise<unknown> = Promise.resolve();
  const actions: Record<string, () => Promise<void>> = {
    '/apiserver/restart': () => controlPlane.restartApiServer(),
    '/apiserver/stop': () => controlPlane.stopApiServer(),
    '/apiserver/start': () => controlPlane.startApiServer(),
  };
  const server = createServer((req, res) => {
    const action = req.method === 'POST' ? actions[req.url ?? ''] : undefined;
    if (!action) {
      res.writeHead(404).end();
      return;
    }
    const started = Date.now();
    const run = queue.then(action);
    queue = run.catch(() => undefined);
    run.then(
      () => {
        log(`${req.url} done in ${Date.now() - started} ms`);
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ durationMs: Date.now() - started }));
      },
      (error: unknown) => {
        const message = error instanceof Error ? error.message : String(error);
        log(`${req.url} failed: ${message}`);
        res.writeHead(500, { 'content-type': 'text/plain' }).end(message);
      },
    );
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('control server has no port'));
      else resolvePromise({ server, url: `http://127.0.0.1:${address.port}` });
    });
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const binDir = await runHackScript('build-control-plane.sh');

  const base = process.env.POD_IDENTITY_WEBHOOK_E2E_DIR ?? join(repoRoot, '.e2e');
  const runDir = await newRunDir(base);
  const pkiDir = join(runDir, 'pki');
  const logDir = join(runDir, 'logs');
  const pidDir = join(runDir, 'pids');
  await mkdir(logDir, { recursive: true });
  await mkdir(pidDir, { recursive: true });

  const clusterCa = await createCA(pkiDir, 'cluster-ca', 'pod-identity-webhook e2e cluster CA');
  const apiServerServing = await issueCertificate(pkiDir, 'kube-apiserver', clusterCa, {
    commonName: 'kube-apiserver',
    hosts: ['127.0.0.1', 'localhost', 'kubernetes', 'kubernetes.default.svc', '10.0.0.1'],
  });
  const admin = await issueCertificate(pkiDir, 'admin', clusterCa, {
    commonName: 'e2e-admin',
    organization: 'system:masters',
    client: true,
  });
  const webhookCa = await createCA(pkiDir, 'webhook-ca', 'pod-identity-webhook e2e webhook CA');
  const serviceAccountKey = await createRsaKeyPair(pkiDir, 'service-account', 2048);

  const controlPlane = new ControlPlane({
    binDir,
    runDir,
    logDir,
    clusterCa,
    apiServerServing,
    admin,
    serviceAccountKey,
  });
  log(`run directory ${runDir}`);
  log(`etcd log: ${controlPlane.etcdLog}`);
  log(`kube-apiserver log: ${controlPlane.apiServerLog}`);
  let control: { server: Server; url: string } | undefined;

  const teardown = async (): Promise<void> => {
    await new Promise<void>((done) => (control ? control.server.close(() => done()) : done()));
    const reaped = await reapRecorded(pidDir, await readdir(pidDir).catch(() => []));
    if (reaped.length > 0) log(`killed processes left by test workers: ${reaped.join(', ')}`);
    await controlPlane.stop();
    log(`control plane stopped; logs in ${logDir}`);
  };

  try {
    await controlPlane.start();
    const kubeconfig = join(runDir, 'admin.kubeconfig');
    await writeKubeconfig(kubeconfig, controlPlane.apiServerUrl, clusterCa.cert, {
      name: 'admin',
      credentials: { 'client-certificate': admin.cert, 'client-key': admin.key },
    });
    const versionResponse = await httpsRequest({
      url: `${controlPlane.apiServerUrl}/version`,
      caFile: clusterCa.cert,
      clientCert: admin,
    });
    const version = (JSON.parse(versionResponse.body) as { gitVersion: string }).gitVersion;
    control = await startControlServer(controlPlane);

    const context: E2EContext = {
      runDir,
      binDir,
      logs: { etcd: controlPlane.etcdLog, apiServer: controlPlane.apiServerLog, dir: logDir },
      pidDir,
      apiServer: {
        url: controlPlane.apiServerUrl,
        port: controlPlane.apiServerPort,
        version,
        builtVersion: (await readlink(join(binDir, 'kube-apiserver'))).replace(/^kube-apiserver-/, ''),
      },
      etcdUrl: controlPlane.etcdUrl,
      kubeconfig,
      clusterCa,
      admin,
      webhookCa,
      serviceAccount: {
        issuer: controlPlane.issuer,
        jwksUri: controlPlane.jwksUri,
        publicKey: serviceAccountKey.pub,
        signingKey: serviceAccountKey.key,
      },
      controlUrl: control.url,
    };
    project.provide('e2e', context);
    log(
      `kube-apiserver ${version} ready at ${controlPlane.apiServerUrl} (etcd ${controlPlane.etcdUrl}) in ${Date.now() - started} ms`,
    );
    log(`admin kubeconfig: ${kubeconfig}`);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
