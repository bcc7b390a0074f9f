"""Examples are tests: the calibration notebook runs top to bottom, and the psychometrician's LOFT and
CAT walk-through runs as written (at a smaller number of simulees) and writes the fields it explains."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "notebooks" / "calibration.ipynb"
GUIDE = ROOT / "docs" / "psychometrician.md"
# Simulees per study when the guide's commands run in the suite: LOFT needs at least 1/r_max = 4 papers.
SMALLER = {"loft": 8, "cat": 3}


def test_calibration_notebook_runs_top_to_bottom(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "RMSE a =" in printed


def _section(title: str) -> str:
    text = GUIDE.read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def _commands(section: str) -> list[str]:
    """The section's shell lines, the studies shrunk to ``SMALLER`` simulees (the `source` line is the reader's)."""
    lines = [line for block in re.findall(r"```bash\n(.*?)```", section, re.S) for line in block.splitlines()
             if line.strip() and not line.startswith("source ")]
    for mode, n in SMALLER.items():
        lines = [re.sub(r"--candidates \d+", f"--candidates {n}", line) if f"simulate {mode} " in line else line
                 for line in lines]
    return lines


def _has(document: dict[str, Any], dotted: str) -> bool:
    for key in dotted.split("."):
        if not isinstance(document, dict) or key not in document:
            return False
        document = document[key]
    return True


def test_loft_and_cat_walkthrough_runs_as_written(tmp_path: Path) -> None:
    section = _section("LOFT and CAT")
    commands = _commands(section)
    assert sum("simulate" in c for c in commands) == 3 and any("sample-bank" in c for c in commands)
    (tmp_path / "data").symlink_to(ROOT / "data")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", "\n".join(commands)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    reports = {out: json.loads((tmp_path / out / "report.json").read_text(encoding="utf-8"))
               for out in re.findall(r"--out (\S+)", "\n".join(c for c in commands if "simulate" in c))}
    assert {r["mode"] for r in reports.values()} == {"loft", "cat"}
    assert all(r["violations"]["count"] == 0 for r in reports.values())
    # every field the guide's table explains is in the report of the mode it names (or of both)
    table = [row for row in section.splitlines() if row.startswith("| `") and not row.startswith("| `report.json`")]
    fields = [name for row in table for name in re.findall(r"`([a-z_.]+)`", row.split("|")[1])]
    assert "theta.rmse" in fields and "exposure.max_conditional" in fields
    for name in fields:
        dotted = name if "." in name or name in ("pass_theta", "violations", "equivalence", "engine") else f"exposure.{name}"
        assert any(_has(r, dotted) for r in reports.values()), name
