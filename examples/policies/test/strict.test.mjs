// The strict Rust policy: deterministic failures at once, transient ones after 2 in a row,
// doubling backoff with equal jitter capped at 10 s, every reload change applied.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { diff, disabled, event, load, server } from './harness.mjs';

describe('strict', async () => {
  const { decisions } = await load('strict');
  const prepared = decisions.configure('{}');

  it('disables deterministic failures at once and transient ones after 2 in a row', () => {
    const table = [
      [{ kind: 'spawn-error' }, true],
      [{ kind: 'exited-before-handshake', exitCode: 1 }, true],
      [{ kind: 'protocol-error' }, true],
      [{ kind: 'http-status', httpStatus: 401 }, true],
      [{ kind: 'http-status', httpStatus: 429 }, false],
      [{ kind: 'http-status', httpStatus: 502 }, false],
      [{ kind: 'init-timeout', consecutiveFailures: 1 }, false],
      [{ kind: 'init-timeout', consecutiveFailures: 2 }, true],
      [{ kind: 'refused', consecutiveFailures: 2 }, true],
      [{ kind: 'crashed-after-ready', consecutiveFailures: 1, readyForMs: 3_600_000n }, false],
      [{ kind: 'health-check', consecutiveFailures: 2 }, true],
    ];
    for (const [fields, want] of table) {
      assert.equal(disabled(decisions.shouldDisable(prepared, event(fields))), want, inspect(fields));
    }
  });

  it('gives a reason that names the server and the cause', () => {
    const decision = decisions.shouldDisable(prepared, event({ kind: 'spawn-error', detail: 'No such file' }));
    assert.deepEqual(decision, { tag: 'disable', val: 'strict policy: server `docs` could not be started: No such file' });
  });

  it('doubles the backoff from 250 ms with equal jitter and caps it at 10 s', () => {
    const steps = [[1, 250n], [2, 500n], [3, 1000n], [6, 8000n], [7, 10_000n], [50, 10_000n]];
    for (const [consecutiveFailures, step] of steps) {
      for (const seed of [0n, 1n, 4242n, 18_446_744_073_709_551_615n]) {
        const ms = decisions.backoff(prepared, event({ consecutiveFailures, seed }));
        assert.ok(ms >= step / 2n && ms <= step, `${consecutiveFailures}/${seed}: ${ms}`);
      }
    }
    const a = decisions.backoff(prepared, event({ consecutiveFailures: 5, seed: 1n }));
    const b = decisions.backoff(prepared, event({ consecutiveFailures: 5, seed: 2n }));
    assert.notEqual(a, b, 'the seed drives the jitter');
  });

  it('takes its thresholds from the settings', () => {
    const lenient = decisions.configure('{"max_consecutive_failures": 4, "backoff_cap_ms": 1000}');
    assert.equal(disabled(decisions.shouldDisable(lenient, event({ consecutiveFailures: 3 }))), false);
    assert.equal(disabled(decisions.shouldDisable(lenient, event({ consecutiveFailures: 4 }))), true);
    assert.ok(decisions.backoff(lenient, event({ consecutiveFailures: 30, seed: 99n })) <= 1000n);
  });

  it('applies every reload change, even cosmetic ones', () => {
    const verdicts = decisions.filterReload(prepared, diff([server('a', 'modified', ['description']), server('b', 'modified', ['env'])]));
    assert.deepEqual(verdicts, [{ tag: 'apply' }, { tag: 'apply' }]);
  });
});
