"""The {{name}} mcpproxy policy, in Python (componentize-py).

A starting point: a server is auto-disabled after `max_consecutive_failures` failures in a row
(3 at once for failures a retry cannot fix), backoff doubles from `backoff_base_ms` up to
`backoff_max_ms` with jitter from the host's seed, and every reload change is applied.

Decisions must be pure functions of their arguments: the host runs each call in a fresh
instance, with no clock, file system, network or randomness (use `event.seed`).
"""

import json

from componentize_py_types import Err

from wit_world import exports
from wit_world.imports import host, types

# The host rejects backoff answers above 24 hours.
HOST_MAX_BACKOFF_MS = 24 * 60 * 60 * 1000

DEFAULTS = {"max_consecutive_failures": 5, "backoff_base_ms": 1_000, "backoff_max_ms": 300_000}

DETERMINISTIC = {
    types.FailureKind.SPAWN_ERROR,
    types.FailureKind.EXITED_BEFORE_HANDSHAKE,
    types.FailureKind.PROTOCOL_ERROR,
}


def parse_settings(text: str) -> dict:
    """Checks the JSON text of `policy.settings`; raises ValueError naming the key."""
    raw = json.loads(text)
    if not isinstance(raw, dict):
        raise ValueError("{{name}} policy settings: expected a JSON object")
    for key, value in raw.items():
        if key not in DEFAULTS:
            raise ValueError(f"{{name}} policy settings: unknown key `{key}`")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= HOST_MAX_BACKOFF_MS:
            raise ValueError(f"{{name}} policy settings: `{key}` must be a positive integer")
    s = {**DEFAULTS, **raw}
    if s["backoff_base_ms"] > s["backoff_max_ms"]:
        raise ValueError("{{name}} policy settings: `backoff_base_ms` must not exceed `backoff_max_ms`")
    return s


def prepared(data: bytes) -> dict:
    """The bytes are our own `configure` output; if not, log it and use the defaults."""
    try:
        return json.loads(data)
    except ValueError as err:
        host.log(types.LogLevel.ERROR, f"{{name}} policy: bad prepared settings ({err}), using defaults")
        return dict(DEFAULTS)


class Decisions(exports.Decisions):
    def configure(self, settings: str) -> bytes:
        try:
            return json.dumps(parse_settings(settings)).encode()
        except ValueError as err:
            raise Err(str(err))

    def should_disable(self, data: bytes, event: types.FailureEvent) -> types.DisableDecision:
        s = prepared(data)
        limit = s["max_consecutive_failures"]
        if event.kind in DETERMINISTIC:
            limit = min(limit, 3)
        if event.consecutive_failures < limit:
            return types.DisableDecision_Keep()
        reason = (
            f"{{name}} policy: server `{event.server}` failed {event.consecutive_failures} times in a row"
            f" ({event.kind.name.lower()})"
        )
        if event.detail.strip():
            reason += f": {event.detail.strip()}"
        return types.DisableDecision_Disable(reason)

    def backoff(self, data: bytes, event: types.FailureEvent) -> int:
        s = prepared(data)
        shift = min(max(event.consecutive_failures - 1, 0), 40)
        cap = min(s["backoff_base_ms"] << shift, s["backoff_max_ms"])
        # Jitter: somewhere between half the step and the whole step, from the host's seed.
        half = cap // 2
        return max(half + event.seed % (cap - half + 1), min(s["backoff_base_ms"], cap))

    def filter_reload(self, data: bytes, diff: types.ConfigDiff) -> list[types.Verdict]:
        return [types.Verdict_Apply() for _ in diff.changes]
