// The {{name}} mcpproxy policy, in JavaScript (componentize-js).
//
// A starting point: a server is auto-disabled after `max_consecutive_failures` failures in a row
// (3 at once for failures a retry cannot fix), backoff doubles from `backoff_base_ms` up to
// `backoff_max_ms` with jitter from the host's seed, and every reload change is applied.
//
// Decisions must be pure functions of their arguments: the host runs each call in a fresh
// instance, with no clock, file system, network or randomness (use `event.seed`).
//
// Bindings: the exported interface is an object named after it; WIT names are camelCase; u64 is
// a BigInt; list<u8> is a Uint8Array; enums are their WIT names as strings; variants are
// `{ tag, val }`; throwing a string from `configure` rejects the settings.

import { log } from 'mcpproxy:policy/host@0.1.0';

const DEFAULTS = Object.freeze({
  max_consecutive_failures: 5,
  backoff_base_ms: 1000,
  backoff_max_ms: 300000,
});

// The host rejects backoff answers above 24 hours.
const HOST_MAX_BACKOFF_MS = 24 * 60 * 60 * 1000;

const DETERMINISTIC = new Set(['spawn-error', 'exited-before-handshake', 'protocol-error']);

function parseSettings(text) {
  let raw;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw `{{name}} policy settings: not JSON (${err.message})`;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw '{{name}} policy settings: expected a JSON object';
  }
  for (const [key, value] of Object.entries(raw)) {
    if (!(key in DEFAULTS)) {
      throw `{{name}} policy settings: unknown key \`${key}\``;
    }
    if (!Number.isSafeInteger(value) || value < 1 || value > HOST_MAX_BACKOFF_MS) {
      throw `{{name}} policy settings: \`${key}\` must be a positive integer, got ${JSON.stringify(value)}`;
    }
  }
  const s = { ...DEFAULTS, ...raw };
  if (s.backoff_base_ms > s.backoff_max_ms) {
    throw '{{name}} policy settings: `backoff_base_ms` must not exceed `backoff_max_ms`';
  }
  return s;
}

// The bytes are our own `configure` output; if not, log it and use the defaults.
function prepared(bytes) {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    log('error', `{{name}} policy: bad prepared settings (${err.message}), using defaults`);
    return DEFAULTS;
  }
}

export const decisions = {
  configure(settings) {
    return new TextEncoder().encode(JSON.stringify(parseSettings(settings)));
  },

  shouldDisable(bytes, event) {
    const s = prepared(bytes);
    const limit = DETERMINISTIC.has(event.kind)
      ? Math.min(s.max_consecutive_failures, 3)
      : s.max_consecutive_failures;
    if (event.consecutiveFailures < limit) {
      return { tag: 'keep' };
    }
    const detail = event.detail.trim();
    const reason =
      `{{name}} policy: server \`${event.server}\` failed ${event.consecutiveFailures} times in a row (${event.kind})` +
      (detail ? `: ${detail}` : '');
    return { tag: 'disable', val: reason };
  },

  backoff(bytes, event) {
    const s = prepared(bytes);
    const shift = Math.min(Math.max(event.consecutiveFailures - 1, 0), 40);
    const base = BigInt(s.backoff_base_ms);
    let cap = base * (1n << BigInt(shift));
    if (cap > BigInt(s.backoff_max_ms)) cap = BigInt(s.backoff_max_ms);
    // Jitter: somewhere between half the step and the whole step, from the host's seed.
    const half = cap / 2n;
    const ms = half + (event.seed % (cap - half + 1n));
    return ms < base ? (base < cap ? base : cap) : ms;
  },

  filterReload(_bytes, diff) {
    return diff.changes.map(() => ({ tag: 'apply' }));
  },
};
