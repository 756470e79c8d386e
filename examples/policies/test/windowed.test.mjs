// The windowed Python policy: disable only when failures in the window exceed the limit (any
// kind), linear backoff capped at 60 s, `env`-only server edits ignored on reload.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diff, disabled, event, global, load, server } from './harness.mjs';

describe('windowed', async () => {
  const { decisions } = await load('windowed');
  const prepared = decisions.configure('{}');

  it('disables only when the window holds more than 5 failures, whatever the kind', () => {
    for (const kind of ['spawn-error', 'protocol-error', 'refused', 'crashed-after-ready']) {
      for (const [failuresInWindow, want] of [[1, false], [5, false], [6, true], [40, true]]) {
        const e = event({ kind, failuresInWindow, consecutiveFailures: 1 });
        assert.equal(disabled(decisions.shouldDisable(prepared, e)), want, `${kind} ${failuresInWindow}`);
      }
    }
    // Many failures in a row, but spread out so that the window holds few: kept.
    assert.equal(disabled(decisions.shouldDisable(prepared, event({ consecutiveFailures: 50, failuresInWindow: 2 }))), false);
  });

  it('says how many failures in how long', () => {
    const decision = decisions.shouldDisable(prepared, event({ failuresInWindow: 6, windowMs: 300_000n, detail: '' }));
    assert.deepEqual(decision, { tag: 'disable', val: 'windowed policy: server `docs` failed 6 times in 5 min (limit 5)' });
  });

  it('grows the backoff linearly by 2 s and caps it at 60 s', () => {
    for (const [consecutiveFailures, want] of [[1, 2000n], [2, 4000n], [10, 20_000n], [30, 60_000n], [31, 60_000n], [4_294_967_295, 60_000n]]) {
      assert.equal(decisions.backoff(prepared, event({ consecutiveFailures })), want, String(consecutiveFailures));
    }
  });

  it('ignores a server edit that only touches env, applies everything else', () => {
    const verdicts = decisions.filterReload(
      prepared,
      diff([
        server('a', 'modified', ['env']),
        server('b', 'modified', ['env', 'args']),
        server('c', 'added'),
        global('env'),
      ]),
    );
    assert.equal(verdicts[0].tag, 'ignore');
    assert.match(verdicts[0].val, /only `env` of server `a` changed/);
    assert.deepEqual(verdicts.slice(1), [{ tag: 'apply' }, { tag: 'apply' }, { tag: 'apply' }]);
  });

  it('takes its thresholds from the settings', () => {
    const custom = decisions.configure('{"max_failures_in_window": 2, "backoff_step_ms": 100, "backoff_cap_ms": 250, "ignore_env_only": false}');
    assert.equal(disabled(decisions.shouldDisable(custom, event({ failuresInWindow: 3 }))), true);
    assert.equal(decisions.backoff(custom, event({ consecutiveFailures: 2 })), 200n);
    assert.equal(decisions.backoff(custom, event({ consecutiveFailures: 3 })), 250n);
    assert.deepEqual(decisions.filterReload(custom, diff([server('a', 'modified', ['env'])])), [{ tag: 'apply' }]);
  });

  it('rejects settings of the wrong type, naming the key', () => {
    assert.throws(() => decisions.configure('{"ignore_env_only": 1}'), /ignore_env_only/);
    assert.throws(() => decisions.configure('{"max_failures_in_window": true}'), /max_failures_in_window/);
    assert.throws(() => decisions.configure('{"backoff_step_ms": 5000, "backoff_cap_ms": 1000}'), /backoff_cap_ms/);
  });
});
