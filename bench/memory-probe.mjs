// Loaded into the webhook under measurement with `node --import bench/memory-probe.mjs`, so the
// webhook itself carries no debug hook: on SIGUSR2 it writes the process's memory, as V8 and Node
// see it, to $BENCH_MEMORY_PROBE_FILE, before and after a full garbage collection.
import { writeFileSync } from 'node:fs';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const file = process.env.BENCH_MEMORY_PROBE_FILE;
const mib = (bytes) => Math.round((bytes / 1048576) * 10) / 10;
const usage = () => Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, mib(v)]));

if (file) {
  process.on('SIGUSR2', () => {
    const before = usage();
    setFlagsFromString('--expose-gc');
    runInNewContext('gc')();
    const spaces = Object.fromEntries(
      getHeapSpaceStatistics().map((s) => [
        s.space_name,
        { used: mib(s.space_used_size), size: mib(s.space_size) },
      ]),
    );
    writeFileSync(file, JSON.stringify({ before, afterGc: usage(), spaces }));
  });
}
