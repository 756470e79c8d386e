"""The "windowed" example policy, in Python (componentize-py).

- Auto-disables a server only when its failures within the host's sliding window exceed
  `max_failures_in_window` (default 5), whatever the kind: even "command not found" gets
  that many tries, and a server that fails now and then is never disabled.
- Backoff grows linearly: `backoff_step_ms` (default 2 000) times the consecutive failures,
  capped at `backoff_cap_ms` (default 60 000). No jitter.
- Reloads: a modified server whose only changed field is `env` is ignored (the running
  process keeps its environment until its next restart); everything else is applied.
  `ignore_env_only: false` switches that off.

This module is only the glue between the generated bindings (`wit_world`) and the pure
functions in `windowed`; it must never keep state between calls (each call runs in a fresh
instance).
"""

from componentize_py_types import Err

import windowed
from wit_world import exports
from wit_world.imports import host, types


class Decisions(exports.Decisions):
    def configure(self, settings: str) -> bytes:
        try:
            return windowed.Settings.parse(settings).encode()
        except windowed.SettingsError as err:
            raise Err(str(err))

    def should_disable(self, prepared: bytes, event: types.FailureEvent) -> types.DisableDecision:
        return windowed.should_disable(_prepared(prepared), event)

    def backoff(self, prepared: bytes, event: types.FailureEvent) -> int:
        return windowed.backoff_ms(_prepared(prepared), event)

    def filter_reload(self, prepared: bytes, diff: types.ConfigDiff) -> list[types.Verdict]:
        return windowed.filter_reload(_prepared(prepared), diff)


def _prepared(data: bytes) -> windowed.Settings:
    """The bytes are our own `configure` output; if they are not, log it and use the defaults."""
    try:
        return windowed.Settings.decode(data)
    except windowed.SettingsError as err:
        host.log(types.LogLevel.ERROR, f"windowed policy: bad prepared settings ({err}), using defaults")
        return windowed.Settings()
