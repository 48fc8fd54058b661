"""Seconds per test file of a pytest run, from its ``--junitxml`` report: the files that dominate ``make test`` and the
weights to write into tests/conftest.py ``LONG_FILES``.

    make test PYTEST_ARGS="--junitxml=test-output/junit.xml"
    .venv/bin/python scripts/test_times.py test-output/junit.xml [--top 30] [--long 20]

A test's time in the report is its setup + call + teardown (pytest's default ``junit_duration_report = total``), so a
module fixture counts in the file's first test. The sum of all tests is the work of the run; divided by the number of
workers it is the least wall time the run can take — a figure less noisy than the wall time on a shared machine.
"""

from __future__ import annotations

import argparse
import collections
import xml.etree.ElementTree as ET
from pathlib import Path


def file_of(classname: str) -> str:
    """``tests.api.test_x.TestY`` → ``api/test_x`` (the key of LONG_FILES)."""
    parts = classname.split(".")
    last = max(i for i, part in enumerate(parts) if part.startswith("test_"))
    return "/".join(parts[1:last + 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=Path, nargs="+", help="pytest --junitxml report(s)")
    parser.add_argument("--top", type=int, default=30, help="how many files to list (default 30)")
    parser.add_argument("--long", type=float, default=20, help="LONG_FILES threshold in seconds (default 20)")
    args = parser.parse_args()
    seconds: collections.Counter[str] = collections.Counter()
    cpu: collections.Counter[str] = collections.Counter()
    tests: collections.Counter[str] = collections.Counter()
    failed = skipped = 0
    for report in args.report:
        for case in ET.parse(report).getroot().iter("testcase"):
            key = file_of(case.get("classname", ""))
            seconds[key] += float(case.get("time", 0))
            cpu[key] += sum(float(p.get("value", 0)) for p in case.iter("property") if p.get("name") == "cpu_seconds")
            tests[key] += 1
            failed += case.find("failure") is not None or case.find("error") is not None
            skipped += case.find("skipped") is not None
    total, cpu_total = sum(seconds.values()), sum(cpu.values())
    print(f"{sum(tests.values())} tests ({failed} failed or errors, {skipped} skipped) in {len(seconds)} files; "
          f"sum of test durations {total:.0f} s = {total / 60:.1f} min ({total / 120:.1f} min on two workers); "
          f"CPU {cpu_total:.0f} s = {cpu_total / 60:.1f} min (tests/conftest.py cpu_seconds; not PostgreSQL's)")
    print(f"{'':4s} {'file':48s} {'wall':>9s} {'CPU':>9s} {'tests':>5s} {'share':>6s}")
    for rank, (key, secs) in enumerate(seconds.most_common(args.top), start=1):
        print(f"{rank:3d}. {key:48s} {secs:7.1f} s {cpu[key]:7.1f} s {tests[key]:5d} {100 * secs / total:5.1f} %")
    long = {key: round(secs) for key, secs in seconds.most_common() if secs >= args.long}
    print(f"\nLONG_FILES candidates (≥ {args.long:g} s):")
    print("    " + ", ".join(f'"{key}": {secs}' for key, secs in long.items()))


if __name__ == "__main__":
    main()
