"""Running the Node tools of the federation tests (this folder's npm project)."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"


def node() -> str:
    """The node executable, with this folder's npm project installed: the first call on a fresh
    checkout runs `npm ci` (the locked versions, from the npm registry)."""
    found = shutil.which("node")
    if found is None:
        raise RuntimeError("node is not installed: the federation tests need Node.js 20 or later")
    install()
    return found


def install() -> None:
    """`npm ci` in this folder unless its packages are there; one process at a time."""
    if (NODE_MODULES / "@apollo" / "composition").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(f"npm is not installed: the federation tests need it (npm ci in {HERE})")
    with open(HERE / ".npm-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (NODE_MODULES / "@apollo" / "composition").is_dir():
            return  # another process installed them meanwhile
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm ci in {HERE} failed: {done.stderr[-2000:]}")


def run_json(script: str, payload: Any, timeout: float = 120.0) -> Any:
    """Run ``script`` (a file of this folder) with ``payload`` as JSON on stdin; its JSON output."""
    done = subprocess.run(
        [node(), str(HERE / script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=HERE,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"node {script} failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout)
