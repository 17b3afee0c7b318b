"""The quality score as the profile keeps it: dimensions, the findings that cost points, and
the gate's decision (how they are computed is :mod:`sdconsole.engine.stages.profile.quality`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class QualityFinding:
    """One thing that costs points (or would, were it not exempt)."""

    table: str
    column: str
    message: str
    count: int
    cost: float  # points of the dimension's 0-100 score
    examples: list[str] = field(default_factory=list)


@dataclass
class Dimension:
    score: float
    weight: float
    eligible: int
    bad: int
    findings: list[QualityFinding] = field(default_factory=list)


@dataclass
class QualityScore:
    total: int
    dimensions: dict[str, Dimension]

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "dimensions": {k: asdict(v) for k, v in self.dimensions.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityScore:
        return cls(
            data["total"],
            {
                name: Dimension(**{**d, "findings": [QualityFinding(**f) for f in d["findings"]]})
                for name, d in data["dimensions"].items()
            },
        )


@dataclass
class GateDecision:
    passed: bool
    overridden: bool
    reason: str
