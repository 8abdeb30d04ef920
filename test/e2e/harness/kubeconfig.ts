import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';

/** Writes a kubeconfig for the e2e API server with one user: client certificate, bearer token or exec plugin. */
export function writeKubeconfig(
  file: string,
  server: string,
  caFile: string,
  user: {
    name: string;
    credentials:
      | { 'client-certificate': string; 'client-key': string }
      | { token: string }
      | { exec: Record<string, unknown> };
  },
): Promise<void> {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'e2e', cluster: { server, 'certificate-authority': caFile } }],
    users: [{ name: user.name, user: user.credentials }],
    contexts: [{ name: 'e2e', context: { cluster: 'e2e', user: user.name } }],
    'current-context': 'e2e',
  };
  return writeFile(file, stringify(config), { mode: 0o600 });
}
