// The strict Rust policy beyond its expected.json: jitter bounds over many seeds, the seed's effect,
// and its review-tools (WIT 0.2.0) through the component.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { event, load } from './harness.mjs';

describe('strict', async () => {
  const { decisions } = await load('strict');
  const prepared = decisions.configure('{}');

  it('keeps every backoff within half a step of the doubling step, capped at 10 s', () => {
    const steps = [[1, 250n], [2, 500n], [3, 1000n], [6, 8000n], [7, 10_000n], [50, 10_000n], [4_294_967_295, 10_000n]];
    for (const [consecutiveFailures, step] of steps) {
      for (const seed of [0n, 1n, 4242n, 2n ** 63n, 18_446_744_073_709_551_615n]) {
        const ms = decisions.backoff(prepared, event({ consecutiveFailures, seed }));
        assert.ok(ms >= step / 2n && ms <= step, `${consecutiveFailures}/${seed}: ${ms}`);
      }
    }
  });

  it('takes its jitter from the seed', () => {
    const a = decisions.backoff(prepared, event({ consecutiveFailures: 5, seed: 1n }));
    const b = decisions.backoff(prepared, event({ consecutiveFailures: 5, seed: 2n }));
    assert.notEqual(a, b);
  });

  it('rejects settings out of range, naming the key', () => {
    assert.throws(() => decisions.configure('{"max_consecutive_failures": 0}'), /max_consecutive_failures/);
    assert.throws(() => decisions.configure('{"backoff_base_ms": 500, "backoff_cap_ms": 100}'), /backoff_cap_ms/);
    assert.throws(() => decisions.configure('{"backoff_cap_ms": 86400001}'), /backoff_cap_ms/);
  });

  it('quarantines a server whose tools changed, naming the change', () => {
    const review = {
      server: 'docs',
      tools: [
        { name: 'search', approvedHash: 'a', currentHash: 'a', changedFields: [] },
        { name: 'fetch', approvedHash: 'b', currentHash: 'c', changedFields: ['description'] },
      ],
      removed: [],
    };
    const decision = decisions.reviewTools(prepared, review);
    assert.equal(decision.tag, 'quarantine');
    assert.match(decision.val, /server `docs` changed its tools since approval: `fetch` changed \(description\)/);
  });
});
