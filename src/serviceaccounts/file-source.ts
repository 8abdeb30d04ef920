// ServiceAccounts from a YAML or JSON file: for local runs, fixtures and the `mutate` command.
import type { V1ServiceAccount } from '@kubernetes/client-node';
import { parseManifests } from '../manifests.js';
import { readText } from '../read-text.js';
import type { ServiceAccountSource } from './source.js';

export class FileServiceAccountSource implements ServiceAccountSource {
  private readonly accounts = new Map<string, V1ServiceAccount>();

  constructor(accounts: V1ServiceAccount[]) {
    for (const account of accounts) {
      this.accounts.set(`${account.metadata?.namespace ?? 'default'}/${account.metadata?.name}`, account);
    }
  }

  static async fromFile(file: string): Promise<FileServiceAccountSource> {
    return FileServiceAccountSource.fromText(await readText(file, `--service-accounts ${file}`), file);
  }

  static fromText(text: string, origin: string): FileServiceAccountSource {
    const accounts = parseManifests(text, origin).map((object, i) =>
      asServiceAccount(object, `${origin}: object ${i + 1}`),
    );
    return new FileServiceAccountSource(accounts);
  }

  async get(namespace: string, name: string): Promise<V1ServiceAccount | undefined> {
    return this.accounts.get(`${namespace}/${name}`);
  }

  size(): number {
    return this.accounts.size;
  }
}

function asServiceAccount(object: Record<string, unknown>, where: string): V1ServiceAccount {
  if (object['kind'] !== 'ServiceAccount') {
    throw new Error(
      `${where} must be a ServiceAccount, got kind ${JSON.stringify(object['kind']) ?? 'nothing'}`,
    );
  }
  const metadata = object['metadata'] as Record<string, unknown> | undefined;
  if (typeof metadata?.['name'] !== 'string' || metadata['name'] === '') {
    throw new Error(`${where} (ServiceAccount) must have metadata.name`);
  }
  const annotations = metadata['annotations'];
  if (annotations !== undefined && annotations !== null) {
    const bad =
      typeof annotations !== 'object' || Object.values(annotations).some((v) => typeof v !== 'string');
    if (bad)
      throw new Error(
        `${where} (ServiceAccount ${metadata['name']}): metadata.annotations must map strings to strings`,
      );
  }
  return object as V1ServiceAccount;
}
