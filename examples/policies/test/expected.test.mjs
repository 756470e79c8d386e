// Replays each example's expected.json (format: ../EXPECTED.md) through its transpiled component.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { load } from './harness.mjs';

const FOLDERS = { strict: 'rust-strict', patient: 'js-patient', windowed: 'python-windowed' };

const NEUTRAL_EVENT = {
  server: 'docs', transport: 'stdio', kind: 'refused', detail: 'connection refused',
  exit_code: null, http_status: null, attempt: 1, consecutive_failures: 1, failures_in_window: 1,
  window_ms: 600000, since_first_failure_ms: 0, ready_for_ms: null, seed: 0,
};

const wit = (name) => name.replaceAll('_', '-');
const option = (value, wrap = (v) => v) => (value === null || value === undefined ? undefined : wrap(value));

/** expected.json's snake_case event → the value jco passes for a WIT `failure-event`. */
function toEvent(fields) {
  const e = { ...NEUTRAL_EVENT, ...fields };
  return {
    server: e.server,
    transport: wit(e.transport),
    kind: wit(e.kind),
    detail: e.detail,
    exitCode: option(e.exit_code),
    httpStatus: option(e.http_status),
    attempt: e.attempt,
    consecutiveFailures: e.consecutive_failures,
    failuresInWindow: e.failures_in_window,
    windowMs: BigInt(e.window_ms),
    sinceFirstFailureMs: BigInt(e.since_first_failure_ms),
    readyForMs: option(e.ready_for_ms, BigInt),
    seed: BigInt(e.seed),
  };
}

/** expected.json's diff → the value jco passes for a WIT `config-diff`. */
function toDiff(d) {
  return {
    changes: d.changes.map((c) => ({
      target: 'server' in c ? { tag: 'server', val: c.server } : { tag: 'global', val: c.global },
      kind: c.kind,
      fields: c.fields ?? [],
    })),
    diskGeneration: option(d.disk_generation, BigInt),
    stampedGeneration: option(d.stamped_generation, BigInt),
  };
}

for (const [name, folder] of Object.entries(FOLDERS)) {
  describe(`${name}: expected.json`, async () => {
    const table = JSON.parse(await readFile(new URL(`../${folder}/expected.json`, import.meta.url), 'utf8'));
    const { decisions } = await load(name);

    it('names its component', () => assert.equal(table.policy, `${name}.wasm`));

    for (const c of table.cases) {
      it(c.name, () => {
        const prepared = decisions.configure(JSON.stringify(c.settings ?? {}));
        if ('disable' in c) {
          const decision = decisions.shouldDisable(prepared, toEvent(c.event));
          assert.equal(decision.tag, c.disable ? 'disable' : 'keep', JSON.stringify(decision));
          if (c.reason !== undefined) assert.equal(decision.val, c.reason);
        } else if ('backoff_ms' in c) {
          const ms = decisions.backoff(prepared, toEvent(c.event));
          const [min, max] = c.backoff_ms.map(BigInt);
          assert.ok(ms >= min && ms <= max, `${ms} not in ${min}..=${max}`);
        } else if ('verdicts' in c) {
          const verdicts = decisions.filterReload(prepared, toDiff(c.diff));
          assert.deepEqual(verdicts.map((v) => v.tag), c.verdicts);
        } else {
          assert.fail(`case "${c.name}" has no expectation`);
        }
      });
    }
  });
}
