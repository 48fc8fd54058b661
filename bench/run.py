"""Run every benchmark of bench/ in one go (``make bench``); each prints its own table with ratios."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

if __name__ == "__main__":
    names = sys.argv[1:] or sorted(p.stem for p in HERE.glob("bench_*.py"))
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        runpy.run_path(str(HERE / f"{name}.py"), run_name="__main__")
