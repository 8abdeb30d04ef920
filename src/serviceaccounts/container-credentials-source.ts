// `--watch-container-credentials-config FILE`: the ServiceAccounts that use EKS Pod Identity
// ("container credentials"), as the Go webhook reads them: `{"identities": [{"namespace": "...",
// "serviceAccount": "..."}]}`. `serve` reloads the file when it changes (a ConfigMap volume swaps a
// symlink in the file's directory); a file that does not parse keeps the last good set and is
// reported. An empty file is an empty set, as in the Go webhook. `mutate` reads it once.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** The ServiceAccounts (namespace/name) listed in the file. */
export class ContainerCredentialsConfig {
  constructor(private identities: ReadonlySet<string> = new Set()) {}

  has(namespace: string, name: string): boolean {
    return this.identities.has(`${namespace}/${name}`);
  }

  get size(): number {
    return this.identities.size;
  }

  /** Replaces the set (a reload). */
  replace(identities: ReadonlySet<string>): void {
    this.identities = identities;
  }

  /** Reads and parses the file once; throws, naming the file, when it cannot be read or parsed. */
  static async fromFile(file: string): Promise<ContainerCredentialsConfig> {
    return new ContainerCredentialsConfig(await loadContainerCredentials(file));
  }
}

/** Parses the file's content into `namespace/name` keys; throws, naming `origin`, on bad content. */
export function parseContainerCredentials(text: string, origin: string): Set<string> {
  const fail = (problem: string): never => {
    throw new Error(`container credentials config ${origin}: ${problem}`);
  };
  if (text.trim() === '') return new Set();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return fail(`invalid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail('expected a JSON object {"identities": [{"namespace": ..., "serviceAccount": ...}]}');
  }
  const identities = (value as Record<string, unknown>)['identities'] ?? [];
  if (!Array.isArray(identities)) return fail('"identities" must be an array');
  const keys = new Set<string>();
  identities.forEach((item: unknown, i) => {
    const entry = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const { namespace, serviceAccount } = entry;
    if (typeof namespace !== 'string' || namespace === '') {
      fail(`identities[${i}].namespace must be a non-empty string`);
    }
    if (typeof serviceAccount !== 'string' || serviceAccount === '') {
      fail(`identities[${i}].serviceAccount must be a non-empty string`);
    }
    keys.add(`${namespace as string}/${serviceAccount as string}`);
  });
  return keys;
}

export async function loadContainerCredentials(file: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`container credentials config ${file}: ${(error as Error).message}`);
  }
  return parseContainerCredentials(text, file);
}

export interface WatchHandlers {
  onReload: (identities: number) => void;
  onError: (error: Error) => void;
}

/**
 * Watches the file's directory (so a ConfigMap volume's `..data` symlink swap is seen, as is an
 * editor's rename) and reloads `config` after changes settle. Returns a function that stops it.
 */
export function watchContainerCredentials(
  file: string,
  config: ContainerCredentialsConfig,
  { onReload, onError }: WatchHandlers,
  settleMs = 100,
): () => void {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const reload = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      loadContainerCredentials(file).then(
        (identities) => {
          if (stopped) return;
          config.replace(identities);
          onReload(identities.size);
        },
        (error: Error) => {
          if (!stopped) onError(error);
        },
      );
    }, settleMs);
  };
  // Any change in the directory: a ConfigMap volume changes `..data`, not the file's own name.
  const watcher: FSWatcher = watch(dirname(file), reload);
  return () => {
    stopped = true;
    clearTimeout(timer);
    watcher.close();
  };
}
