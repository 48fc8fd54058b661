"""Domain errors of the spatial core.

They subclass built-in exceptions (as osmnx does) so callers can catch them broadly, and carry every problem found
rather than the first, so a user can fix a file in one pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: which check, which feature, and what a person should read."""

    kind: str
    message: str
    feature_id: object | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = f" (feature {self.feature_id})" if self.feature_id is not None else ""
        return f"{self.kind}: {self.message}{where}"


class GeoValidationError(ValueError):
    """Input that cannot be used as it is; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem] | Problem | str, *, field: str | None = None) -> None:
        if isinstance(problems, str):
            problems = [Problem("invalid", problems, field=field)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


@dataclass
class ProblemList:
    """Collects problems while a check runs; raise them together at the end."""

    problems: list[Problem] = field(default_factory=list)

    def add(self, kind: str, message: str, feature_id: object | None = None, field: str | None = None) -> None:
        self.problems.append(Problem(kind, message, feature_id, field))

    def raise_if_any(self) -> None:
        if self.problems:
            raise GeoValidationError(self.problems)

    def __bool__(self) -> bool:
        return bool(self.problems)


def positive_number(value: object, name: str, problems: ProblemList) -> float:
    """``value`` as a finite number > 0, or a problem naming ``name`` (and 1.0 so checking can go on)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        problems.add("value", f"{name} must be a positive number, got {value!r}", field=name)
        return 1.0
    return number
