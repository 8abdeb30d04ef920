// The run folders of the e2e and kind projects' global setups: each run writes its logs (and more)
// under a folder of its own, kept afterwards for reading; only the last few runs are kept.
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

const KEEP_RUNS = 3;

/**
 * Removes all but the newest KEEP_RUNS run folders of `base` (created if missing), then makes a new
 * one, run-<ISO time>-<random>, and returns its path.
 */
export async function newRunDir(base: string): Promise<string> {
  await mkdir(base, { recursive: true });
  const runs = (await readdir(base).catch(() => [])).filter((name) => name.startsWith('run-')).sort();
  // Names are run-<ISO time>-<random>, so lexical order is age order.
  for (const name of runs.slice(0, Math.max(0, runs.length - KEEP_RUNS))) {
    await rm(join(base, name), { recursive: true, force: true });
  }
  return mkdtemp(join(base, `run-${new Date().toISOString().replace(/[:.]/g, '-')}-`));
}
