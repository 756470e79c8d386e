"""The windowed policy's settings and decisions, as pure functions of their arguments."""

import json
from dataclasses import asdict, dataclass, fields

from wit_world.imports import types

# The host rejects backoff answers above 24 hours.
HOST_MAX_BACKOFF_MS = 24 * 60 * 60 * 1000


class SettingsError(ValueError):
    """Settings that the policy refuses; the message names the key."""


@dataclass(frozen=True)
class Settings:
    max_failures_in_window: int = 5
    backoff_step_ms: int = 2_000
    backoff_cap_ms: int = 60_000
    ignore_env_only: bool = True

    @staticmethod
    def parse(text: str) -> "Settings":
        """Checks the JSON text of `policy.settings`."""
        try:
            raw = json.loads(text)
        except ValueError as err:
            raise SettingsError(f"windowed policy settings: not JSON ({err})") from None
        if not isinstance(raw, dict):
            raise SettingsError("windowed policy settings: expected a JSON object")
        known = {f.name: f for f in fields(Settings)}
        for key, value in raw.items():
            if key not in known:
                raise SettingsError(
                    f"windowed policy settings: unknown key `{key}` (known: {', '.join(known)})"
                )
            want = known[key].type
            # bool is an int in Python: check it first so `true` is no number and 1 no flag.
            if (want in (bool, "bool")) != isinstance(value, bool) or (
                want in (int, "int") and not isinstance(value, int)
            ):
                raise SettingsError(
                    f"windowed policy settings: `{key}` must be a {getattr(want, '__name__', want)}, got {json.dumps(value)}"
                )
        settings = Settings(**raw)
        if settings.max_failures_in_window < 1:
            raise SettingsError("windowed policy settings: `max_failures_in_window` must be at least 1")
        if settings.backoff_step_ms < 1:
            raise SettingsError("windowed policy settings: `backoff_step_ms` must be at least 1")
        if not settings.backoff_step_ms <= settings.backoff_cap_ms <= HOST_MAX_BACKOFF_MS:
            raise SettingsError(
                "windowed policy settings: `backoff_cap_ms` must be between `backoff_step_ms` "
                f"and {HOST_MAX_BACKOFF_MS}, got {settings.backoff_cap_ms}"
            )
        return settings

    def encode(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @staticmethod
    def decode(data: bytes) -> "Settings":
        try:
            return Settings(**json.loads(data))
        except (ValueError, TypeError) as err:
            raise SettingsError(str(err)) from None


def should_disable(settings: Settings, event: types.FailureEvent) -> types.DisableDecision:
    """Disable only when the window holds more failures than allowed, whatever their kind."""
    if event.failures_in_window <= settings.max_failures_in_window:
        return types.DisableDecision_Keep()
    minutes = event.window_ms / 60_000
    reason = (
        f"windowed policy: server `{event.server}` failed {event.failures_in_window} times "
        f"in {minutes:g} min (limit {settings.max_failures_in_window})"
    )
    detail = event.detail.strip()
    return types.DisableDecision_Disable(f"{reason}: {detail}" if detail else reason)


def backoff_ms(settings: Settings, event: types.FailureEvent) -> int:
    """Linear growth, capped: step, 2 × step, 3 × step, ... up to the cap."""
    return min(settings.backoff_step_ms * max(event.consecutive_failures, 1), settings.backoff_cap_ms)


def filter_reload(settings: Settings, diff: types.ConfigDiff) -> list[types.Verdict]:
    """One verdict per change: `env`-only edits of a server wait for its next restart."""
    verdicts: list[types.Verdict] = []
    for change in diff.changes:
        env_only = (
            settings.ignore_env_only
            and isinstance(change.target, types.ChangeTarget_Server)
            and change.kind == types.ChangeKind.MODIFIED
            and change.fields == ["env"]
        )
        if env_only:
            verdicts.append(
                types.Verdict_Ignore(
                    f"windowed policy: only `env` of server `{change.target.value}` changed; "
                    "it applies at the next restart"
                )
            )
        else:
            verdicts.append(types.Verdict_Apply())
    return verdicts
