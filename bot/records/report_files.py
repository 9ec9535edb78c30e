"""The report files: the annual summary (HTML, Markdown, JSON) and the attendance matrix (HTML, CSV).

Rendered from templates/records/ by bot/records/documents.py (HTML escaped, strict).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.records import attendance_matrix
from bot.records.annual_report import AnnualReport
from bot.records.attendance_matrix import AttendanceMatrix
from bot.records.documents import render_document


def render(name: str, **context: Any) -> str:
    return render_document(f"records/{name}", **context)


def annual_stem(report: AnnualReport) -> str:
    return f"{report.group_short_name.lower()}-annual-report-{report.year}"


def attendance_stem(matrix: AttendanceMatrix) -> str:
    return f"{matrix.group_short_name.lower()}-attendance-{matrix.year}"


def annual_files(report: AnnualReport) -> dict[str, bytes]:
    """File name to content: the printable HTML, its Markdown source and the figures as JSON."""
    stem = annual_stem(report)
    source = json.dumps(report.as_source(), indent=2, ensure_ascii=False) + "\n"
    return {f"{stem}.html": render("annual_report.html.j2", r=report).encode(),
            f"{stem}.md": render("annual_report.md.j2", r=report).encode(),
            f"{stem}.json": source.encode()}


def attendance_files(matrix: AttendanceMatrix) -> dict[str, bytes]:
    """File name to content: the printable HTML matrix and the CSV."""
    stem = attendance_stem(matrix)
    return {f"{stem}.html": render("attendance_matrix.html.j2", m=matrix, marks=attendance_matrix.CELL_MARKS,
                                   labels=attendance_matrix.CELL_LABELS).encode(),
            f"{stem}.csv": attendance_matrix.to_csv(matrix).encode()}


def write(files: dict[str, bytes], directory: Path) -> list[Path]:
    """Write each file into `directory` (created if needed); return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = directory / name
        path.write_bytes(content)
        written.append(path)
    return written
