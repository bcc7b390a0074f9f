"""Marginal maximum likelihood machinery behind ``calibration.calibrate``.

``families`` (item models and their derivatives), ``parameters`` (what is estimated and how it
is packed), ``design`` (pattern blocks and the E-step), ``mstep`` (Fisher scoring and group
moments), ``em`` (the EM loop with SQUAREM), ``standard_errors`` (cross-product information).
"""
