"""What the solver layer reports: statuses that mean what they say, and solver output kept off
the user's terminal (in the ``assembly.solver`` log instead)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from assembly import assemble
from assembly.solve import is_proven, stop_status
from tests.assembly.conftest import small_spec

SOLVER_TEXT = ("HiGHS", "Copyright", "Presolving", "Welcome to the CBC", "Cbc0")


def test_a_gap_stop_is_feasible_and_says_where_it_stopped():
    assert stop_status(10.0, 10.031, 0.005) == ("feasible", "stopped at gap 0.31 % (tolerance 0.50 %)")
    assert stop_status(10.0, 10.0031, 0.005) == ("feasible", "stopped at gap 0.03 % (tolerance 0.50 %)")
    assert stop_status(10.0, 10.2, 0.005)[1] == "time limit reached at gap 2.00 % (tolerance 0.50 %)"
    assert stop_status(10.0, 10.0 + 1e-12, 0.005) == ("optimal", "proven optimal")
    assert is_proven(0.0, 1e-10) and not is_proven(10.0, 10.001) and not is_proven(10.0, None)


@pytest.mark.parametrize("decompose", [True, False])
def test_optimal_only_when_proven(bank, decompose):
    """A 3 % tolerance ends the run early; whatever the path, optimal must carry a zero gap."""
    spec = small_spec(forms={"main": 2, "backup": 0},
                      solver={"time_limit": 6, "gap": 0.03, "decompose": decompose})
    result = assemble(bank, spec, seed=5)
    assert result.ok, result.message
    if result.status == "optimal":
        assert result.gap is not None and result.gap <= 1e-9
    else:
        assert result.gap is not None and result.gap > 1e-9
        assert "gap" in result.message and "tolerance 3.00 %" in result.message


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_solvers_print_nothing_to_the_terminal(solver):
    """The real file descriptors of a fresh process (HiGHS prints its banner once per process,
    from C, so capturing inside this test process would miss it once another test ran)."""
    script = (
        "from assembly import assemble\n"
        "from assembly.synthetic import synthetic_bank\n"
        "from tests.assembly.conftest import small_spec\n"
        f"spec = small_spec(forms={{'main': 2, 'backup': 0}}, solver={{'name': '{solver}', "
        "'time_limit': 3, 'decompose': False})\n"
        "assert assemble(synthetic_bank(200, rng=3), spec).ok\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    for text in SOLVER_TEXT:
        assert text not in run.stdout and text not in run.stderr, (run.stdout, run.stderr)


def test_highs_output_goes_to_the_debug_log(bank, capfd, caplog):
    with caplog.at_level(logging.DEBUG, logger="assembly.solver"):
        result = assemble(bank, small_spec(forms={"main": 1, "backup": 0},
                                           solver={"time_limit": 3}))
    assert result.ok
    captured = capfd.readouterr()
    assert "HiGHS" not in captured.out and "HiGHS" not in captured.err
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "assembly.solver")
    assert "Presolving model" in logged or "MIP" in logged
