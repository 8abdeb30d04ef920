// Child processes that are always stopped by PID: SIGTERM, then SIGKILL after a timeout. Output goes
// to a log file and (the recent part) to memory for error messages.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  createWriteStream,
  fstatSync,
  openSync,
  readSync,
  writeSync,
  type WriteStream,
} from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

/**
 * Asks the kernel for `count` free loopback ports: binds that many to port 0, reads them, releases
 * them. All are held until all are read, so they differ (one at a time, the kernel may hand the
 * same released port out twice).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(servers.map(listenOnAnyPort));
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

function listenOnAnyPort(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') reject(new Error('could not read the bound port'));
      else resolve(address.port);
    });
  });
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Records `<pidDir>/<pid>` while the process runs, so the global teardown can reap it. */
  pidDir?: string;
  /**
   * Stdout and stderr go straight into the log file instead of through a pipe this process reads,
   * so a busy test process never holds up the child's writes (a full pipe blocks a process that
   * logs a line per request); output() and tail() then read the file.
   */
  outputToFile?: boolean;
}

const MAX_CAPTURE = 4 * 1024 * 1024;
const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when this process goes away without running the orderly teardown.
  process.on('exit', () => {
    for (const p of live) p.child.kill('SIGKILL');
  });
}

export class ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<Exit>;
  private exit: Exit | undefined;
  private captured = '';
  private readonly log: WriteStream;
  private readonly pidFile: string | undefined;
  private readonly outputInFile: boolean;

  private constructor(options: StartOptions) {
    installExitHook();
    this.name = options.name;
    this.logFile = options.logFile;
    this.outputInFile = options.outputToFile ?? false;
    const header = `# ${new Date().toISOString()} ${options.command} ${options.args.join(' ')}\n`;
    let output: number | 'pipe' = 'pipe';
    if (this.outputInFile) {
      output = openSync(options.logFile, 'a');
      writeSync(output, header);
    }
    this.log = createWriteStream(options.logFile, { flags: 'a' });
    if (!this.outputInFile) this.log.write(header);
    this.child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', output, output],
    });
    if (typeof output === 'number') closeSync(output);
    const onData = (chunk: Buffer): void => {
      if (!this.log.writableEnded) this.log.write(chunk);
      this.captured += chunk.toString('utf8');
      if (this.captured.length > MAX_CAPTURE) this.captured = this.captured.slice(-MAX_CAPTURE / 2);
    };
    this.child.stdout?.on('data', onData);
    this.child.stderr?.on('data', onData);
    this.pidFile =
      options.pidDir && this.child.pid ? join(options.pidDir, String(this.child.pid)) : undefined;
    live.add(this);
    this.exited = new Promise<Exit>((resolve) => {
      // 'close' (not 'exit'): fires once stdout and stderr are drained too.
      this.child.once('close', (code, signal) => {
        this.exit ??= { code, signal };
        live.delete(this);
        if (!this.log.writableEnded)
          this.log.write(`# ${new Date().toISOString()} exited code=${code} signal=${signal}\n`);
        if (this.pidFile) void rm(this.pidFile, { force: true });
        resolve(this.exit);
      });
      this.child.once('error', (error) => {
        this.captured += `\nspawn error: ${error.message}\n`;
        this.exit ??= { code: null, signal: null };
        live.delete(this);
        resolve(this.exit);
      });
    });
  }

  static async start(options: StartOptions): Promise<ManagedProcess> {
    const p = new ManagedProcess(options);
    if (p.pidFile)
      await writeFile(p.pidFile, `${options.name}\n${options.command} ${options.args.join(' ')}\n`);
    return p;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Why the process is no longer running, or undefined while it runs. */
  exitReason(): string | undefined {
    if (!this.exit) return undefined;
    return `${this.name} exited (code ${this.exit.code}, signal ${this.exit.signal})`;
  }

  /** Everything captured so far (the newest 2–4 MB). */
  output(): string {
    if (!this.outputInFile) return this.captured;
    const fd = openSync(this.logFile, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, MAX_CAPTURE);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      return buffer.toString('utf8');
    } finally {
      closeSync(fd);
    }
  }

  tail(lines = 30): string {
    return this.output().trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** SIGTERM, then SIGKILL if still running after `timeoutMs`. Resolves once it has exited. */
  async stop(timeoutMs = 10_000): Promise<Exit> {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!this.log.writableEnded)
        this.log.write(
          `# ${new Date().toISOString()} still running ${timeoutMs} ms after SIGTERM: SIGKILL\n`,
        );
      this.child.kill('SIGKILL');
    }, timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
      await new Promise<void>((resolve) => this.log.end(resolve));
    }
  }
}

/**
 * Kills processes recorded in `pidDir` that are still alive (left by a crashed test worker). The
 * recorded command line is compared with /proc/<pid>/cmdline so a reused PID is left alone.
 */
export async function reapRecorded(pidDir: string, files: string[]): Promise<string[]> {
  const reaped: string[] = [];
  for (const file of files) {
    const pid = Number(file);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const recorded = await readFile(join(pidDir, file), 'utf8').catch(() => '');
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
    const command = recorded.split('\n')[1]?.split(' ')[0];
    if (cmdline !== undefined && command && cmdline.split('\0')[0] === command) {
      process.kill(pid, 'SIGKILL');
      reaped.push(`${pid} (${recorded.split('\n')[0]})`);
    }
    await rm(join(pidDir, file), { force: true });
  }
  return reaped;
}
