// The "patient" example policy, in JavaScript (componentize-js).
//
// - Transient failures (timeouts, refused connections, crashes after Ready, failed health
//   checks, HTTP errors) NEVER auto-disable a server: it keeps being retried.
// - Deterministic failures (cannot start, exits before the handshake, not MCP) auto-disable only
//   after `deterministic_failures_to_disable` in a row (default 5), not at the first one.
// - Backoff is a fixed `backoff_ms` (default 30 000 ms), no growth, no jitter.
// - Reloads: every change is applied.
//
// Decisions are pure functions of their arguments: no module-level state is ever written,
// because the host runs each call in a fresh instance anyway.
//
// Binding conventions (componentize-js): the exported interface is an object named after it;
// WIT names become camelCase; u64 is a BigInt; list<u8> is a Uint8Array; enums are their WIT
// names as strings; variants are `{ tag, val }`; returning from a `result` function is `ok`,
// throwing a string is `err`.

import { log } from 'mcpproxy:policy/host@0.1.0';

const DEFAULTS = Object.freeze({
  backoff_ms: 30000,
  deterministic_failures_to_disable: 5,
});

// The host rejects backoff answers above 24 hours.
const HOST_MAX_BACKOFF_MS = 24 * 60 * 60 * 1000;

const DETERMINISTIC = new Set(['spawn-error', 'exited-before-handshake', 'protocol-error']);

function positiveInteger(settings, key, max) {
  const value = settings[key];
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw `patient policy settings: \`${key}\` must be an integer from 1 to ${max}, got ${JSON.stringify(value)}`;
  }
  return value;
}

/** Checks `policy.settings` (JSON text) and returns them as compact JSON bytes. */
function parseSettings(text) {
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw `patient policy settings: not JSON (${err.message})`;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw 'patient policy settings: expected a JSON object';
  }
  for (const key of Object.keys(raw)) {
    if (!(key in DEFAULTS)) {
      throw `patient policy settings: unknown key \`${key}\` (known: ${Object.keys(DEFAULTS).join(', ')})`;
    }
  }
  const merged = { ...DEFAULTS, ...raw };
  return {
    backoff_ms: positiveInteger(merged, 'backoff_ms', HOST_MAX_BACKOFF_MS),
    deterministic_failures_to_disable: positiveInteger(merged, 'deterministic_failures_to_disable', 1000),
  };
}

/** The inverse of `configure`'s encoding; the bytes are ours, so a failure is logged, not fatal. */
function prepared(bytes) {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    log('error', `patient policy: bad prepared settings (${err.message}), using defaults`);
    return DEFAULTS;
  }
}

function describe(event) {
  switch (event.kind) {
    case 'spawn-error':
      return 'could not be started';
    case 'exited-before-handshake':
      return event.exitCode === undefined
        ? 'exited before the MCP handshake'
        : `exited with code ${event.exitCode} before the MCP handshake`;
    default:
      return 'does not speak MCP';
  }
}

export const decisions = {
  configure(settings) {
    return new TextEncoder().encode(JSON.stringify(parseSettings(settings)));
  },

  shouldDisable(bytes, event) {
    const settings = prepared(bytes);
    if (!DETERMINISTIC.has(event.kind)) {
      return { tag: 'keep' };
    }
    if (event.consecutiveFailures < settings.deterministic_failures_to_disable) {
      return { tag: 'keep' };
    }
    const detail = event.detail.trim();
    const reason =
      `patient policy: server \`${event.server}\` ${describe(event)} ` +
      `${event.consecutiveFailures} times in a row` +
      (detail ? `: ${detail}` : '');
    return { tag: 'disable', val: reason };
  },

  backoff(bytes, _event) {
    return BigInt(prepared(bytes).backoff_ms);
  },

  filterReload(_bytes, diff) {
    return diff.changes.map(() => ({ tag: 'apply' }));
  },
};
