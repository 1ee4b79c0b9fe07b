"""Collect evaluation results into one table: rows (dataset, method, metric, mean, std) -> Markdown and JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DEFAULT_COLUMNS = ("accuracy", "balanced_accuracy", "macro_f1")


@dataclass
class ResultRow:
    """One number of the report; `std` is None for single-run results (zero-shot, retrieval)."""

    dataset: str
    method: str
    metric: str
    mean: float
    std: float | None = None
    num_seeds: int = 1
    note: str = ""


class ResultsTable:
    """Accumulates results from `ProbeResult`, `ZeroShotResult` or plain {metric: value} dicts."""

    def __init__(self, rows: Sequence[ResultRow] = ()):
        self.rows = list(rows)

    def add(self, dataset: str, method: str, result: Any, note: str = "") -> None:
        """Add every metric of `result` (anything with `summary()` -> {metric: (mean, std)}, or a mapping)."""
        if hasattr(result, "summary"):
            summary = result.summary()
            seeds = len(getattr(result, "seeds", ())) or 1
        elif isinstance(result, Mapping):
            summary = {
                name: (value, None) for name, value in result.items() if isinstance(value, (int, float))
            }
            seeds = 1
        else:
            raise ValueError(
                f"cannot report a {type(result).__name__}; pass a ProbeResult, ZeroShotResult or dict."
            )
        if not summary:
            raise ValueError(f"result for {dataset}/{method} holds no numeric metric.")
        for metric, (mean, std) in summary.items():
            self.rows.append(ResultRow(dataset, method, metric, float(mean), std, seeds, note))

    def to_dict(self) -> dict[str, Any]:
        return {"rows": [asdict(row) for row in self.rows]}

    def save_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load_json(cls, path: str | Path) -> ResultsTable:
        return cls([ResultRow(**row) for row in json.loads(Path(path).read_text())["rows"]])

    def to_markdown(
        self, metrics: Sequence[str] = DEFAULT_COLUMNS, scale: float = 100.0, digits: int = 2
    ) -> str:
        """One line per (dataset, method) in insertion order, one column per metric: "mean ± std" x `scale`.

        Metrics a line lacks show as "-"; the note column says e.g. "cross-subject" or "transfer".
        """
        lines: dict[tuple[str, str], dict[str, ResultRow]] = {}
        for row in self.rows:
            lines.setdefault((row.dataset, row.method), {})[row.metric] = row
        header = ["dataset", "method", *metrics, "note"]
        table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for (dataset, method), cells in lines.items():
            values = []
            for metric in metrics:
                row = cells.get(metric)
                if row is None:
                    values.append("-")
                elif row.std is None:
                    values.append(f"{row.mean * scale:.{digits}f}")
                else:
                    values.append(f"{row.mean * scale:.{digits}f} ± {row.std * scale:.{digits}f}")
            notes = sorted({row.note for row in cells.values() if row.note})
            table.append("| " + " | ".join([dataset, method, *values, "; ".join(notes)]) + " |")
        return "\n".join(table) + "\n"
