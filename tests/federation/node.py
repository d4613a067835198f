"""Running the Node tools of the federation tests (this folder's npm project)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NODE_MODULES = HERE / "node_modules"


def node() -> str:
    """The node executable; the npm project must be installed (`npm ci` in this folder)."""
    found = shutil.which("node")
    if found is None:
        raise RuntimeError("node is not installed: the federation tests need Node.js 20 or later")
    if not (NODE_MODULES / "@apollo" / "composition").is_dir():
        raise RuntimeError(
            f"the federation tests' npm packages are missing: run `npm ci` in {HERE}"
        )
    return found


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
