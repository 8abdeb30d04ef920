// The e2e harness's port picker: etcd's client and peer ports once came back equal, and etcd died
// binding the second ("address already in use").
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePorts } from '../e2e/harness/processes.js';

describe('freePorts', () => {
  it('hands out distinct ports, released again', async () => {
    const ports = await freePorts(64);
    expect(new Set(ports).size).toBe(64);
    for (const port of ports) expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(ports[0], '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});
