// The e2e harness's control plane (etcd + kube-apiserver, its PKI and admin kubeconfig) for bench
// scripts, which run outside vitest: test/e2e/harness/global-setup.ts is compiled on the fly with
// esbuild (a devDependency, like everything bench needs) and called with a stand-in for vitest's
// `project`, so there is one way to start the cluster, not two.
//
//   const cluster = await startCluster();   // { context: E2EContext, stop() }
//   ... cluster.context.kubeconfig, cluster.context.apiServer.url ...
//   await cluster.stop();
//
// Runs go to POD_IDENTITY_WEBHOOK_E2E_DIR, by default .e2e/bench (the harness keeps the last three
// runs of a directory: a separate one leaves the e2e tests' runs alone).
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { importCompiled, root } from './compiled.mjs';

/** Starts etcd and kube-apiserver as the e2e tests do; `stop()` stops both by PID. */
export async function startCluster() {
  process.env.POD_IDENTITY_WEBHOOK_E2E_DIR ??= join(root, '.e2e', 'bench');
  const { default: setup } = await importCompiled(
    'test/e2e/harness/global-setup.ts',
    'bench/e2e-global-setup.mjs',
  );
  let context;
  const teardown = await setup({ provide: (key, value) => (context = value) });
  return { context, stop: teardown };
}

/**
 * A cluster-admin JSON client over one keep-alive agent: `api('POST', path, body)` resolves with
 * { status, body } (the body parsed when it is JSON).
 */
export function adminClient(context, { maxSockets = 64 } = {}) {
  const agent = new Agent({
    keepAlive: true,
    maxSockets,
    ca: readFileSync(context.clusterCa.cert),
    cert: readFileSync(context.admin.cert),
    key: readFileSync(context.admin.key),
  });
  const url = new URL(context.apiServer.url);
  const api = (method, path, body) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path,
          method,
          agent,
          headers: {
            accept: 'application/json',
            ...(payload && { 'content-type': 'application/json', 'content-length': payload.length }),
          },
        },
        (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed = text;
            try {
              parsed = JSON.parse(text);
            } catch {
              // not JSON: keep the text
            }
            resolve({ status: res.statusCode, body: parsed });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  return { api, close: () => agent.destroy() };
}
