// Loads a transpiled example policy (see ../test-all.sh) and builds WIT values the way jco
// expects them: camelCase fields, BigInt for u64, undefined for `none`, `{ tag, val }` variants.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const transpiled = fileURLToPath(new URL('../.tools/transpiled/', import.meta.url));

/** The policy's `decisions` export and the WIT that jco reads from the component. */
export async function load(name) {
  const module = await import(`${transpiled}${name}/${name}.js`);
  const wit = await readFile(`${transpiled}${name}/component.wit`, 'utf8');
  const decl = await readFile(`${transpiled}${name}/interfaces/mcpproxy-policy-decisions.d.ts`, 'utf8');
  return { decisions: module.decisions, wit, decl };
}

/** A failure event with neutral values; `overrides` replaces any field. */
export function event(overrides = {}) {
  return {
    server: 'docs',
    transport: 'stdio',
    kind: 'refused',
    detail: 'connection refused',
    exitCode: undefined,
    httpStatus: undefined,
    attempt: 1,
    consecutiveFailures: 1,
    failuresInWindow: 1,
    windowMs: 600_000n,
    sinceFirstFailureMs: 0n,
    readyForMs: undefined,
    seed: 0n,
    ...overrides,
  };
}

export const server = (name, kind, fields = []) => ({ target: { tag: 'server', val: name }, kind, fields });
export const global = (key) => ({ target: { tag: 'global', val: key }, kind: 'modified', fields: [] });
export const diff = (changes) => ({ changes, diskGeneration: 4n, stampedGeneration: 3n });

/** `configure` returns `ok` bytes or throws jco's ComponentError carrying the `err` string. */
export function configureError(decisions, settings) {
  try {
    decisions.configure(settings);
  } catch (err) {
    return String(err.payload ?? err.message);
  }
  return null;
}

/** The interfaces a component imports, from `jco wit`. */
export function imports(wit) {
  return [...wit.matchAll(/^\s*import ([^;]+);/gm)].map((m) => m[1]);
}

/** The interfaces a component exports, from `jco wit`. */
export function exports(wit) {
  return [...wit.matchAll(/^\s*export ([^;:]+(?::[^;\s]+)?)[;:]/gm)].map((m) => m[1].trim());
}

export const disabled = (decision) => decision.tag === 'disable';
