"""The benchmark still works: `python -m bench --quick` prints every row and writes well-formed JSON.

Timings are never asserted (they depend on the machine); shapes and counts are.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench import report, scale
from tests.factories import all_names

REPO = Path(__file__).resolve().parent.parent


def test_quick_benchmark_prints_the_table_and_writes_consistent_json(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    args = [sys.executable, "-m", "bench", "--quick", "--json", str(out)]
    if not scale.postgres_available():
        args.append("--no-postgres")
    done = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]

    printed = done.stdout
    for row in ("Ack `/pmccg convene`", "Ack Attendance click", "Ack Convene view submission",
                "Attendance clicks/s", "Scheduler tick, sqlite", "due reminders", "RSS of `pmccg serve`, idle",
                "after the throughput run", "Crash mid-convene (SIGKILL) to orphan cleaned up",
                "Every response_url connection reset (Slack unreachable): ack `/pmccg help`",
                "Every Web API call and response_url answered after 5 s: ack Attendance click",
                "Ack Action.Execute (invoke)"):
        assert row in printed, f"missing row {row!r}:\n{printed}"
    assert str(out) in printed

    results = json.loads(out.read_text())
    for key in ("cpu", "cpus", "ram_gib", "os", "python", "sqlite", "postgresql", "commit"):
        assert key in results["machine"]
    assert isinstance(results["machine"]["cpus"], int)
    for kind in ("command", "click", "submission"):
        row = results["ack"][kind]
        for side in ("ours", "bare"):
            assert row[side]["n"] == results["sizes"]["requests"]
            assert row[side]["failures"] == 0 and row[side]["late"] == 0
            assert 0 < row[side]["p50_ms"] <= row[side]["p95_ms"] <= row[side]["p99_ms"] <= row[side]["max_ms"]
        assert isinstance(row["ratio_p99"], float)
    # Every submission really convened a case (the ack was not a validation error).
    submission = results["ack"]["submission"]["ours"]
    assert submission["cases_convened"] == 1 + results["sizes"]["warmup"] + results["sizes"]["requests"]

    throughput = results["throughput"]["ours"]
    assert throughput["requests"] > 0 and throughput["failures"] == 0 and throughput["late"] == 0

    for backend, row in results["scheduler"].items():
        assert backend in ("sqlite", "postgresql")
        for size, tick in row["sizes"].items():
            assert tick["open_action_points"] >= int(size)
            assert tick["sent"] == tick["expected"] == row["due_per_tick"] * row["repeats"]

    delivery = results["delivery"]
    assert delivery["delivered"] == delivery["due"] == results["sizes"]["reminders"]
    assert delivery["duplicates"] == 0
    assert delivery["rate_limited"] == results["sizes"]["rate_limits"]

    (crash,) = results["orphan"]["settings"]
    assert crash["repeats"] == len(crash["runs"]) == 1
    assert 0 < crash["restart_s"] <= crash["cleaned_s"] == crash["max_cleaned_s"]

    # The faults section, tiny: every acknowledgement taken and in time while Slack fails, the convenings done
    # after them where Slack still answers the Web API, each reminder once with posts slower than the lease.
    faults = results["fault_ack"]
    assert set(faults) == {"response_url_down", "slack_slow"}
    for scenario in faults.values():
        for kind in ("command", "click", "submission"):
            row = scenario["kinds"][kind]
            for side in ("ours", "bare"):
                assert row[side]["n"] == results["sizes"]["fault_requests"]
                assert row[side]["failures"] == 0 and row[side]["late"] == 0
            assert isinstance(row["ratio_p99"], float)
            assert scenario["turned_away"][kind] == 0  # a handful of requests: the pool never fills
    down = faults["response_url_down"]
    assert down["convened"] == down["submitted"] == results["sizes"]["fault_requests"]
    if "fault_lease" in results:
        lease = results["fault_lease"]
        assert lease["delivered_once"] == lease["due"] == results["sizes"]["lease_reminders"]
        assert lease["doubles"] == lease["drops"] == lease["unfinished"] == 0
        assert lease["latency_s"] > lease["lease_s"]
        assert "due reminders, 2 workers on PostgreSQL" in printed
    assert results["fault_orphan"] == results["orphan"]  # measured once, shown in the faults section

    # Teams: every measured click was a member's real click on their own invitation, answered with that card
    # as it reads now (a refusal in words would count as failed).
    teams = results["teams_ack"]["invoke"]
    assert teams["members"] > 0 and teams["ours"]["n"] == teams["bare"]["n"] > 0
    assert teams["ours"]["failures"] == teams["bare"]["failures"] == 0 and teams["ours"]["late"] == 0

    memory = results["memory"]
    assert set(memory["idle_kib"]) == {"master", "worker1"} and all(v > 0 for v in memory["idle_kib"].values())
    assert results["goals"] == report.goals(results) and all(isinstance(v, bool) for v in results["goals"].values())
    # Benchmark output names nobody: only ids and fictional bench people reach the table.
    for name in all_names():
        assert name not in printed


def test_bench_refuses_an_unknown_part() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "--only", "ack,speed"], cwd=REPO, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown part(s) speed" in done.stderr
