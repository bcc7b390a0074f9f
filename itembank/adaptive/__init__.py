"""Shadow-test computerised adaptive testing (CAT): pools, sessions and simulations.

The loop that needs both cores lives here: :mod:`assembly.shadow_test` picks items under the
spec's rules and :mod:`calibration.posterior` estimates θ. ``CatPool`` is what a bank seals and
an engine loads; ``CatSession`` runs one candidate (and resumes from its log alone);
``simulate_cat`` runs simulees with known abilities and learns the exposure control.
"""

from itembank.adaptive.pool import CatPool, CatSettings
from itembank.adaptive.session import CatSession, TamperedLog
from itembank.adaptive.simulation import CatRun, simulate_cat

__all__ = ["CatPool", "CatRun", "CatSession", "CatSettings", "TamperedLog", "simulate_cat"]
