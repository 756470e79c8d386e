// What every example policy must do, whatever its language: export exactly the WIT signatures,
// import nothing the host refuses, check its settings, and answer once per reload change.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { configureError, diff, event, exports, global, imports, load, server } from './harness.mjs';

// The exact TypeScript signatures jco derives from the `decisions` interface of each WIT
// version: wit/0.1.0/policy.wit, and wit/policy.wit (0.2.0 adds review-tools).
const SIGNATURES_0_1 = [
  'export function configure(settings: string): Uint8Array;',
  'export function shouldDisable(prepared: Uint8Array, event: FailureEvent): DisableDecision;',
  'export function backoff(prepared: Uint8Array, event: FailureEvent): bigint;',
  'export function filterReload(prepared: Uint8Array, diff: ConfigDiff): Array<Verdict>;',
];
const SIGNATURES = {
  '0.1.0': SIGNATURES_0_1,
  '0.2.0': [
    ...SIGNATURES_0_1,
    'export function reviewTools(prepared: Uint8Array, review: ToolReview): ReviewDecision;',
  ],
};

// Which WIT version each example is built against: strict follows the current one; patient and
// windowed stay on 0.1.0, which mcpproxy still runs (the embedded default answers review-tools).
const VERSIONS = { strict: '0.2.0', patient: '0.1.0', windowed: '0.1.0' };

for (const [name, version] of Object.entries(VERSIONS)) {
  // What the host provides: its own interface, and WASI answered by a deny-all context.
  const allowedImport = new RegExp(
    `^(mcpproxy:policy/(host|types)@${version.replaceAll('.', '\\.')}|wasi:[a-z-]+/[a-z-]+@0\\.2\\.\\d+)$`,
  );
  describe(`${name}: contract`, async () => {
    const { decisions, wit, decl } = await load(name);

    it(`exports mcpproxy:policy/decisions@${version} with the WIT signatures`, () => {
      assert.ok(exports(wit).includes(`mcpproxy:policy/decisions@${version}`), wit);
      const declared = decl.split('\n').filter((line) => line.startsWith('export function'));
      assert.deepEqual(declared, SIGNATURES[version]);
    });

    it('imports only mcpproxy:policy/host and WASI', () => {
      assert.ok(imports(wit).includes(`mcpproxy:policy/host@${version}`));
      for (const imported of imports(wit)) {
        assert.match(imported, allowedImport);
      }
    });

    it('accepts empty settings and rejects bad ones, naming the key', () => {
      assert.ok(decisions.configure('{}') instanceof Uint8Array);
      assert.match(configureError(decisions, '{"no_such_setting": 1}'), /no_such_setting/);
      assert.match(configureError(decisions, '[]'), /object/);
      assert.match(configureError(decisions, 'not json'), /settings/);
    });

    it('answers once per reload change, in order', () => {
      const prepared = decisions.configure('{}');
      const changes = [server('a', 'added'), server('b', 'removed'), global('call_tool_timeout')];
      assert.equal(decisions.filterReload(prepared, diff(changes)).length, 3);
      assert.deepEqual(decisions.filterReload(prepared, diff([])), []);
    });

    it('is deterministic: same prepared settings and event, same answers', () => {
      const prepared = decisions.configure('{}');
      const e = event({ consecutiveFailures: 3, seed: 987_654_321n });
      assert.deepEqual(decisions.shouldDisable(prepared, e), decisions.shouldDisable(prepared, e));
      assert.equal(decisions.backoff(prepared, e), decisions.backoff(prepared, e));
    });

    it('never answers a backoff above the host maximum of 24 h', () => {
      const prepared = decisions.configure('{}');
      for (const consecutiveFailures of [1, 10, 1000, 4_294_967_295]) {
        const ms = decisions.backoff(prepared, event({ consecutiveFailures, seed: 18_446_744_073_709_551_615n }));
        assert.ok(ms <= 86_400_000n, `${consecutiveFailures}: ${ms}`);
      }
    });
  });
}
