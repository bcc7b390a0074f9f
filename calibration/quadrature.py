"""The latent-ability grid that marginal likelihood integrates over.

A rectangular grid of equally spaced standard-normal points with normalised density weights (as
R mirt and BILOG use) rather than Gauss–Hermite: its points are fixed in z, so each group's grid
is simply ``mean + sd * z`` and expected counts from groups with different means can be pooled
in one M-step. 61 points over ±6 (spacing 0.2) is the default. The rectangle rule converges fast
on these smooth integrands: on the 40,000-person eight-paper log, 41, 61 and 121 points give the
same estimates to four decimals. 61 points leave room for long tests, whose posteriors are
narrower. E-step cost grows linearly with the number of points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.irt import FloatArray


@dataclass(frozen=True)
class Quadrature:
    """Standard-normal grid points ``z`` and weights summing to one."""

    z: FloatArray
    weights: FloatArray

    @classmethod
    def rectangular(cls, n_points: int, bound: float) -> Quadrature:
        z = np.linspace(-bound, bound, n_points)
        density = np.exp(-0.5 * z**2)
        return cls(z=z, weights=density / density.sum())

    @property
    def log_weights(self) -> FloatArray:
        return np.log(self.weights)

    def nodes(self, mean: FloatArray, sd: FloatArray) -> FloatArray:
        """Ability nodes of each group, shape (n_groups, n_points)."""
        return np.asarray(mean)[:, None] + np.asarray(sd)[:, None] * self.z[None, :]
