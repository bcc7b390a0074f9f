"""Automated test assembly: a pure optimisation core (pandas in, papers out, no database).

``assemble(items, spec, seed=None)`` builds every main and backup paper of a spec in one MIP,
solves it with HiGHS or CBC, re-verifies every rule independently and returns an
:class:`AssemblyResult`. ``load_spec`` reads a YAML/JSON spec; ``verify`` checks any papers.
"""

from assembly.engine import assemble
from assembly.errors import (
    AssemblyError,
    InfeasibleSpec,
    ItemTableError,
    RejectedSolution,
    SpecError,
)
from assembly.loft import assemble_loft
from assembly.loft_result import LoftResult
from assembly.result import AssemblyResult, Form
from assembly.spec import PaperSpec, load_spec
from assembly.verify import verify
from assembly.verify_loft import verify_loft

__all__ = [
    "AssemblyError",
    "AssemblyResult",
    "Form",
    "InfeasibleSpec",
    "LoftResult",
    "ItemTableError",
    "PaperSpec",
    "RejectedSolution",
    "SpecError",
    "assemble",
    "assemble_loft",
    "load_spec",
    "verify",
    "verify_loft",
]
