// What a bench child reports when asked for its usage: CPU time (user + system, µs) and the time its
// garbage collector has taken (µs), both since the process started. GC time is shown next to CPU per
// request so that objects living longer than they should (and being promoted and collected as old
// generation) are seen as such, not just as "more CPU".
import { PerformanceObserver } from 'node:perf_hooks';

let gcMicros = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMicros += e.duration * 1000;
}).observe({ entryTypes: ['gc'] });

export function usage() {
  const cpu = process.cpuUsage();
  return { cpuMicros: cpu.user + cpu.system, gcMicros };
}
