import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/**
 * Runs `hack/<name>` (they reuse what they cached), echoing its progress on stderr; resolves with
 * the last line it prints on stdout: the path it made or reused.
 */
export function runHackScript(name: string): Promise<string> {
  const script = join(repoRoot, 'hack', name);
  return new Promise((resolvePromise, reject) => {
    const child = spawn('bash', [script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const path = stdout.trim().split('\n').at(-1);
      if (code === 0 && path) resolvePromise(path);
      else reject(new Error(`${script} failed (exit ${code}):\n${stderr.slice(-4000)}`));
    });
  });
}
