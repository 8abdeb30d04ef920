// What global-setup hands to the test files through vitest's provide/inject. Everything here must
// be serializable: the tests run in worker processes, the control plane in vitest's main process.
import type {} from 'vitest';

export interface CertificateFiles {
  cert: string;
  key: string;
}

export interface E2EContext {
  /** Directory holding everything this run generated (certificates, data, logs); kept afterwards. */
  runDir: string;
  /** Where the kube-apiserver and etcd binaries live. */
  binDir: string;
  logs: { etcd: string; apiServer: string; dir: string };
  /** Directory where test workers record PIDs of processes they start, for teardown to reap. */
  pidDir: string;
  apiServer: {
    url: string;
    port: number;
    /** Version reported by /version, e.g. v1.34.4. */
    version: string;
    /** Version the binary was built as: the suffix of the cached kube-apiserver-<version> file. */
    builtVersion: string;
  };
  etcdUrl: string;
  /** Kubeconfig of the cluster-admin client (client certificate, O=system:masters). */
  kubeconfig: string;
  /** CA that signs the API server serving certificate and the client certificates it accepts. */
  clusterCa: CertificateFiles;
  admin: CertificateFiles;
  /** CA for webhook serving certificates (test webhooks get theirs from it). */
  webhookCa: CertificateFiles;
  serviceAccount: { issuer: string; jwksUri: string; publicKey: string; signingKey: string };
  /** Loopback HTTP endpoint of global-setup: POST /apiserver/restart|stop|start. */
  controlUrl: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    e2e: E2EContext;
  }
}
