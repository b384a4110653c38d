import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from '../../../src/metrics/hot.js';

const BUCKETS = [0.0005, 0.001, 0.01, 0.1, 1, 10];
const label = fc.constantFrom('forwarded', 'blocked', 'rejected', 'a "quoted"\\ value');

describe('hot-path metrics expose exactly what prom-client would', () => {
  it('counter: same text for any sequence of increments', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ method: fc.constantFrom('GET', 'POST'), outcome: label, by: fc.integer({ min: 0, max: 5 }) }), { maxLength: 40 }), async (incs) => {
        const a = new Registry();
        const b = new Registry();
        const ref = new Counter({ name: 'x_total', help: 'Help text.', labelNames: ['method', 'outcome'] as const, registers: [a] });
        const hot = new HotCounter({ name: 'x_total', help: 'Help text.', labelNames: ['method', 'outcome'] as const, registers: [b] });
        for (const i of incs) {
          ref.inc({ method: i.method, outcome: i.outcome }, i.by);
          hot.inc({ method: i.method, outcome: i.outcome }, i.by);
        }
        expect(await b.metrics()).toBe(await a.metrics());
        // After a reset, both start over.
        ref.reset();
        hot.reset();
        ref.inc({ method: 'GET', outcome: 'forwarded' });
        hot.inc({ method: 'GET', outcome: 'forwarded' });
        expect(await b.metrics()).toBe(await a.metrics());
      }),
      { numRuns: 100 },
    );
  });

  it('histogram: same buckets, sum and count for any observations, labelled or not', async () => {
    const value = fc.oneof(fc.constantFrom(...BUCKETS, 0, 30), fc.double({ min: 0, max: 20, noNaN: true }));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.record({ outcome: label, v: value }), { maxLength: 40 }), async (obs) => {
        const a = new Registry();
        const b = new Registry();
        const ref = new Histogram({ name: 'd_seconds', help: 'H.', labelNames: ['outcome'] as const, buckets: BUCKETS, registers: [a] });
        const hot = new HotHistogram({ name: 'd_seconds', help: 'H.', labelNames: ['outcome'] as const, buckets: BUCKETS, registers: [b] });
        const ref0 = new Histogram({ name: 'e_seconds', help: 'H.', buckets: BUCKETS, registers: [a] });
        const hot0 = new HotHistogram({ name: 'e_seconds', help: 'H.', labelNames: [] as const, buckets: BUCKETS, registers: [b] });
        for (const o of obs) {
          ref.observe({ outcome: o.outcome }, o.v);
          hot.observe({ outcome: o.outcome }, o.v);
          ref0.observe(o.v);
          hot0.observe(o.v);
        }
        // prom-client prints an unlabelled histogram's zero series before any observation; only compare once observed.
        if (obs.length > 0) expect(await b.metrics()).toBe(await a.metrics());
      }),
      { numRuns: 100 },
    );
  });

  it('refuses what Prometheus cannot represent', () => {
    const r = new Registry();
    const c = new HotCounter({ name: 'c_total', help: 'h', labelNames: ['k'] as const, registers: [r] });
    const h = new HotHistogram({ name: 'h_seconds', help: 'h', labelNames: [] as const, buckets: BUCKETS, registers: [r] });
    expect(() => c.inc({ k: 'v' }, -1)).toThrow(RangeError);
    expect(() => h.observe(Number.NaN)).toThrow(RangeError);
  });
});
