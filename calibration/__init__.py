"""Psychometrics core: response logs in, item and person estimates out. No database imports."""
