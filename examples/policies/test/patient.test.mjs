// The patient JavaScript policy beyond its expected.json: no WASI at all, settings checks, logging.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { event, imports, load } from './harness.mjs';
import { logged } from './host.js';

describe('patient', async () => {
  const { decisions, wit } = await load('patient');

  it('imports nothing but the policy world: every WASI feature is switched off', () => {
    assert.deepEqual(imports(wit).sort(), ['mcpproxy:policy/host@0.1.0', 'mcpproxy:policy/types@0.1.0']);
  });

  it('never disables a transient failure, however many in a row', () => {
    const prepared = decisions.configure('{}');
    for (const kind of ['init-timeout', 'refused', 'http-status', 'crashed-after-ready', 'health-check']) {
      for (const consecutiveFailures of [1, 2, 10, 4_294_967_295]) {
        const e = event({ kind, consecutiveFailures, failuresInWindow: consecutiveFailures, httpStatus: 404 });
        assert.deepEqual(decisions.shouldDisable(prepared, e), { tag: 'keep' }, `${kind} x${consecutiveFailures}`);
      }
    }
  });

  it('rejects a backoff the host would refuse, naming the key', () => {
    assert.throws(() => decisions.configure('{"backoff_ms": 86400001}'), /backoff_ms/);
    assert.throws(() => decisions.configure('{"backoff_ms": "30s"}'), /backoff_ms/);
    assert.throws(() => decisions.configure('{"deterministic_failures_to_disable": 0}'), /deterministic_failures_to_disable/);
  });

  it('logs through the host import when given bytes it did not make, and uses its defaults', () => {
    const before = logged.length;
    assert.equal(decisions.backoff(new TextEncoder().encode('garbage'), event()), 30_000n);
    assert.equal(logged.length, before + 1);
    assert.equal(logged[before].level, 'error');
    assert.match(logged[before].message, /bad prepared settings/);
  });
});
