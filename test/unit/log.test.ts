// The logger writes each line itself, before the call returns, instead of queueing it for a libuv
// threadpool thread (pino's asynchronous default): with the only threadpool thread kept busy, a
// process killed right after logging still has the line on stdout.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = new URL('../..', import.meta.url).pathname;

describe('createLogger', () => {
  it('has written the line to stdout when the call returns, whatever the threadpool is doing', async () => {
    const script = `
      const { pbkdf2 } = await import('node:crypto');
      const { createLogger } = await import(${JSON.stringify(`${root}dist/log.js`)});
      pbkdf2('busy', 'threadpool', 5e7, 32, 'sha256', () => {});
      createLogger('info').info({ uid: 'u1' }, 'admission review');
      process.kill(process.pid, 'SIGKILL');`;
    const failure = (await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
    }).then(
      () => ({}),
      (error: unknown) => error,
    )) as { signal?: string; stdout?: string };
    expect(failure.signal).toBe('SIGKILL');
    expect(JSON.parse(failure.stdout ?? '')).toMatchObject({
      service: 'pod-identity-webhook',
      uid: 'u1',
      msg: 'admission review',
    });
  });
});
