// The patient JavaScript policy: transient failures never disable, deterministic ones after 3
// in a row, a fixed 30 s backoff, every reload change applied.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diff, disabled, event, global, imports, load, server } from './harness.mjs';
import { logged } from './host.js';

describe('patient', async () => {
  const { decisions, wit } = await load('patient');
  const prepared = decisions.configure('{}');

  it('imports nothing but the policy world: every WASI feature is switched off', () => {
    assert.deepEqual(imports(wit).sort(), ['mcpproxy:policy/host@0.1.0', 'mcpproxy:policy/types@0.1.0']);
  });

  it('never disables a transient failure, however many in a row', () => {
    for (const kind of ['init-timeout', 'refused', 'http-status', 'crashed-after-ready', 'health-check']) {
      for (const consecutiveFailures of [1, 2, 10, 10_000]) {
        const e = event({ kind, consecutiveFailures, failuresInWindow: consecutiveFailures, httpStatus: 404 });
        assert.deepEqual(decisions.shouldDisable(prepared, e), { tag: 'keep' }, `${kind} x${consecutiveFailures}`);
      }
    }
  });

  it('disables a deterministic failure only on its fifth time in a row', () => {
    for (const kind of ['spawn-error', 'exited-before-handshake', 'protocol-error']) {
      for (const [consecutiveFailures, want] of [[1, false], [3, false], [4, false], [5, true], [9, true]]) {
        assert.equal(disabled(decisions.shouldDisable(prepared, event({ kind, consecutiveFailures }))), want, `${kind} x${consecutiveFailures}`);
      }
    }
    const decision = decisions.shouldDisable(prepared, event({ kind: 'exited-before-handshake', exitCode: 127, consecutiveFailures: 5, detail: ' sh: nope: not found\n' }));
    assert.deepEqual(decision, {
      tag: 'disable',
      val: 'patient policy: server `docs` exited with code 127 before the MCP handshake 5 times in a row: sh: nope: not found',
    });
    const sooner = decisions.configure('{"deterministic_failures_to_disable": 1}');
    assert.equal(disabled(decisions.shouldDisable(sooner, event({ kind: 'spawn-error' }))), true);
  });

  it('waits a fixed 30 s, whatever the event', () => {
    for (const fields of [{}, { consecutiveFailures: 40, seed: 77n }, { kind: 'spawn-error' }]) {
      assert.equal(decisions.backoff(prepared, event(fields)), 30_000n);
    }
    assert.equal(decisions.backoff(decisions.configure('{"backoff_ms": 5000}'), event()), 5_000n);
  });

  it('rejects a backoff the host would refuse', () => {
    assert.throws(() => decisions.configure('{"backoff_ms": 86400001}'), /backoff_ms/);
    assert.throws(() => decisions.configure('{"backoff_ms": "30s"}'), /backoff_ms/);
  });

  it('applies every reload change', () => {
    const verdicts = decisions.filterReload(prepared, diff([server('a', 'modified', ['env']), global('log_level')]));
    assert.deepEqual(verdicts, [{ tag: 'apply' }, { tag: 'apply' }]);
  });

  it('logs through the host import, not stdio, when given bytes it did not make', () => {
    const before = logged.length;
    assert.equal(decisions.backoff(new TextEncoder().encode('garbage'), event()), 30_000n);
    assert.equal(logged.length, before + 1);
    assert.equal(logged[before].level, 'error');
    assert.match(logged[before].message, /bad prepared settings/);
  });
});
