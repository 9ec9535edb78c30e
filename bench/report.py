"""The machine's description, the printed table, and the goals checked against the results."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from sqlalchemy import text

from storage.db import make_engine

ACK_GOAL_RATIO = 1.5
TICK_GOAL_RATIO = 2.0
SLACK_DEADLINE_MS = 3000


def _first(path: str, prefix: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine(pg_url: str | None) -> dict[str, Any]:
    """CPU, RAM, OS, Python, SQLite, PostgreSQL and the git commit, for comparing runs."""
    postgres = None
    if pg_url:
        try:
            engine = make_engine(pg_url)
            with engine.connect() as conn:
                postgres = str(conn.execute(text("SHOW server_version")).scalar())
            engine.dispose()
        except Exception:  # noqa: BLE001  (absent: reported as None)
            postgres = None
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=5).stdout.strip() or None
    except OSError:
        commit = None
    mem_kib = _first("/proc/meminfo", "MemTotal").split()[0]
    return {"cpu": _first("/proc/cpuinfo", "model name"), "cpus": os.cpu_count(),
            "ram_gib": round(int(mem_kib) / 1024 / 1024, 1) if mem_kib.isdigit() else None,
            "os": platform.platform(), "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "postgresql": postgres, "commit": commit}


def goals(results: dict[str, Any]) -> dict[str, bool]:
    """Each goal of the issue that this run measured, met or not."""
    out: dict[str, bool] = {}
    for kind, row in results.get("ack", {}).items():
        out[f"ack_{kind}_ratio_p99<=1.5"] = row["ratio_p99"] is not None and row["ratio_p99"] <= ACK_GOAL_RATIO
        out[f"ack_{kind}_p99<3s"] = row["ours"]["p99_ms"] is not None and row["ours"]["p99_ms"] < SLACK_DEADLINE_MS
    if "throughput" in results:
        t = results["throughput"]["ours"]
        out["throughput_no_failed_or_late"] = t["failures"] == 0 and t["late"] == 0
    for backend, row in results.get("scheduler", {}).items():
        out[f"tick_{backend}_ratio<=2"] = row["ratio_largest_smallest"] is not None and \
            row["ratio_largest_smallest"] <= TICK_GOAL_RATIO
    for row in _orphan_rows(results):
        # Cleaned up within the orphan time plus two ticks after the restart is healthy.
        bound = row["restart_s"] + row["orphan_seconds"] + 2 * row["tick_seconds"]
        out[f"orphan_{row['orphan_seconds']:g}s_cleaned_in_time"] = row["max_cleaned_s"] <= bound + 5
    if "delivery" in results:
        d = results["delivery"]
        out["delivery_all_once"] = d["delivered"] == d["due"] and d["duplicates"] == 0
    for scenario, row in results.get("fault_ack", {}).items():
        for kind, k in row["kinds"].items():
            out[f"fault_{scenario}_{kind}_ratio_p99<=1.5"] = k["ratio_p99"] is not None and \
                k["ratio_p99"] <= ACK_GOAL_RATIO
            out[f"fault_{scenario}_{kind}_p99<3s"] = k["ours"]["p99_ms"] is not None and \
                k["ours"]["p99_ms"] < SLACK_DEADLINE_MS
    for kind, row in results.get("teams_ack", {}).items():
        out[f"teams_ack_{kind}_ratio_p99<=1.5"] = row["ratio_p99"] is not None and row["ratio_p99"] <= ACK_GOAL_RATIO
        out[f"teams_ack_{kind}_p99<5s"] = row["ours"]["p99_ms"] is not None and row["ours"]["p99_ms"] < 5000
    if "fault_lease" in results:
        f = results["fault_lease"]
        out["fault_lease_all_once"] = f["delivered_once"] == f["due"] and f["doubles"] == 0 and f["drops"] == 0
    return out


def _orphan_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The crash mid-convene settings measured: by the orphan part, or by the faults section's own run."""
    found = results.get("orphan") or results.get("fault_orphan") or {}
    return list(found.get("settings", []))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def table(results: dict[str, Any]) -> str:
    """The one table the benchmark prints (Markdown, so it pastes into the README as is)."""
    lines = ["| Measurement | Ours | Bare Bolt | Ratio / goal |", "|---|---|---|---|"]
    names = {"command": "`/pmccg convene` (opens the modal)", "click": "Attendance click",
             "submission": "Convene view submission"}
    for kind, row in results.get("ack", {}).items():
        o, b = row["ours"], row["bare"]
        lines.append(f"| Ack {names[kind]}, p50 / p95 / p99 ms (n={o['n']}, failed {o['failures']}) | "
                     f"{_ms(o['p50_ms'])} / {_ms(o['p95_ms'])} / {_ms(o['p99_ms'])} | "
                     f"{_ms(b['p50_ms'])} / {_ms(b['p95_ms'])} / {_ms(b['p99_ms'])} | "
                     f"{row['ratio_p99']} at p99 (goal <= {ACK_GOAL_RATIO}) |")
    if "throughput" in results:
        t, b = results["throughput"]["ours"], results["throughput"]["bare"]
        lines.append(f"| Attendance clicks/s, {t['clients']} clients, {t['seconds']} s (failed / late > 3 s) | "
                     f"{t['per_second']} ({t['failures']} / {t['late']}), p99 {_ms(t['latency']['p99_ms'])} ms | "
                     f"{b['per_second']} ({b['failures']} / {b['late']}) | no failed or late ack |")
    for backend, row in results.get("scheduler", {}).items():
        sizes = row["sizes"]
        cells = ", ".join(f"{int(size):,}: {s['tick_ms']} ms" for size, s in sizes.items())
        lines.append(f"| Scheduler tick, {backend}, {row['due_per_tick']} due (open action points: tick) | "
                     f"{cells} | - | {row['ratio_largest_smallest']} largest/smallest (goal <= {TICK_GOAL_RATIO}) |")
    if "delivery" in results:
        d = results["delivery"]
        lines.append(f"| {d['due']:,} due reminders, {d['rate_limited']} x 429 injected | delivered {d['delivered']:,},"
                     f" twice {d['duplicates']}, {d['seconds']} s ({d['per_second']}/s) | - | Slack: ~1/s per channel,"
                     f" each to its own DM |")
    if "memory" in results:
        m = results["memory"]

        def total(snapshot: dict[str, int]) -> str:
            return f"{sum(snapshot.values()) / 1024:.0f} MiB (" + ", ".join(
                f"{k} {v / 1024:.0f}" for k, v in snapshot.items()) + ")"

        lines.append(f"| RSS of `pmccg serve`, idle | {total(m['idle_kib'])} | {total(m['bare_idle_kib'])} | - |")
        if m.get("after_throughput_kib"):
            after = total(m["after_throughput_kib"])
            lines.append(f"| RSS of `pmccg serve`, after the throughput run | {after} | - | - |")
    return "\n".join(lines)


NAMES = {"command": "`/pmccg help`", "click": "Attendance click", "submission": "Convene view submission"}


def _first_up(text: str) -> str:
    return text[:1].upper() + text[1:]


def has_faults(results: dict[str, Any]) -> bool:
    return any(key in results for key in ("fault_ack", "fault_lease", "fault_orphan", "orphan"))


def faults_table(results: dict[str, Any]) -> str:
    """The faults section: acknowledgements while Slack fails, reminders slower than the lease, a crash."""
    lines = ["| Fault | Ours | Bare Bolt | Ratio / goal |", "|---|---|---|---|"]
    for row in results.get("fault_ack", {}).values():
        for kind, k in row["kinds"].items():
            o, b = k["ours"], k["bare"]
            away = row["turned_away"][kind]
            lines.append(f"| {_first_up(row['fault'])}: ack {NAMES[kind]}, p50 / p95 / p99 ms (n={o['n']}, failed "
                         f"{o['failures']}, late {o['late']}, turned away busy {away}) | "
                         f"{_ms(o['p50_ms'])} / {_ms(o['p95_ms'])} / {_ms(o['p99_ms'])} | "
                         f"{_ms(b['p50_ms'])} / {_ms(b['p95_ms'])} / {_ms(b['p99_ms'])} | "
                         f"{k['ratio_p99']} at p99 (goal <= {ACK_GOAL_RATIO}) |")
        lines.append(f"| {_first_up(row['fault'])}: convenings finished after the acknowledgements | "
                     f"{row['convened']} of {row['submitted']} within {row['drain_s']} s | - | - |")
    if "fault_lease" in results:
        f = results["fault_lease"]
        lines.append(f"| {f['due']:,} due reminders, {f['workers']} workers on PostgreSQL, every post answered after "
                     f"{f['latency_s']:g} s, lease {f['lease_s']:g} s | once {f['delivered_once']:,}, doubles "
                     f"{f['doubles']}, drops {f['drops']} ({f['seconds']} s; claims lost {f['claims_lost']}) | - | "
                     f"each exactly once |")
    for row in _orphan_rows(results):
        lines.append(f"| Crash mid-convene (SIGKILL) to orphan cleaned up, orphan time {row['orphan_seconds']:g} s, "
                     f"tick {row['tick_seconds']:g} s (median of {row['repeats']}) | "
                     f"{row['cleaned_s']} s (restart {row['restart_s']} s; max {row['max_cleaned_s']} s) | - | "
                     f"within restart + orphan time + 2 ticks |")
    return "\n".join(lines)


def teams_table(results: dict[str, Any]) -> str:
    """Teams: the acknowledgement of an Action.Execute invoke, `pmccg teams` against a bare Teams SDK app."""
    lines = ["| Teams | ours p50 / p95 / p99 | bare p50 / p95 / p99 | p99 ours/bare | failed, late (>5 s) |",
             "|---|---|---|---|---|"]
    for kind, row in results.get("teams_ack", {}).items():
        ours, bare = row["ours"], row["bare"]
        lines.append(f"| Ack Action.Execute ({kind}), a member's attendance click, n={ours['n']} | "
                     f"{ours['p50_ms']} / {ours['p95_ms']} / {ours['p99_ms']} ms | "
                     f"{bare['p50_ms']} / {bare['p95_ms']} / {bare['p99_ms']} ms | {row['ratio_p99']} | "
                     f"{ours['failures']}, {ours['late']} |")
    return "\n".join(lines)
