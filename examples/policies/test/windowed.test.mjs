// The windowed Python policy beyond its expected.json: settings checks, every kind judged alike.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { disabled, event, load } from './harness.mjs';

describe('windowed', async () => {
  const { decisions } = await load('windowed');

  it('judges every kind by the window alone', () => {
    const prepared = decisions.configure('{}');
    const kinds = ['spawn-error', 'exited-before-handshake', 'init-timeout', 'protocol-error', 'refused', 'http-status', 'crashed-after-ready', 'health-check'];
    for (const kind of kinds) {
      for (const [failuresInWindow, want] of [[1, false], [5, false], [6, true], [40, true]]) {
        const e = event({ kind, failuresInWindow, consecutiveFailures: failuresInWindow, httpStatus: 401 });
        assert.equal(disabled(decisions.shouldDisable(prepared, e)), want, `${kind} ${failuresInWindow}`);
      }
    }
  });

  it('rejects settings of the wrong type or range, naming the key', () => {
    assert.throws(() => decisions.configure('{"ignore_env_only": 1}'), /ignore_env_only/);
    assert.throws(() => decisions.configure('{"max_failures_in_window": true}'), /max_failures_in_window/);
    assert.throws(() => decisions.configure('{"max_failures_in_window": 0}'), /max_failures_in_window/);
    assert.throws(() => decisions.configure('{"backoff_step_ms": 5000, "backoff_cap_ms": 1000}'), /backoff_cap_ms/);
  });
});
