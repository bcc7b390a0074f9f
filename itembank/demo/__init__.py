"""The end-to-end demo: one certification cycle on a fresh bank, and its self-contained HTML report."""

from itembank.demo.run import run_demo
from itembank.demo.state import DemoOptions, DemoRun

__all__ = ["DemoOptions", "DemoRun", "run_demo"]
