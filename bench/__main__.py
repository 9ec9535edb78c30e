"""`python -m bench`: run the measurements on 127.0.0.1, print one table, write the results as JSON."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import ack, faults, orphan, report, scale, teams
from bench.servers import start_bare, start_pmccg
from bench.standin import StandIn

PARTS = ("ack", "throughput", "scheduler", "delivery", "memory", "orphan", "fault_ack", "fault_lease", "fault_orphan",
         "teams_ack")
# `--only faults`: the faults section (acknowledgements while Slack fails, reminders slower than the lease on
# PostgreSQL, a crash mid-convene: the orphan part's measurement with its quickest setting only, or the orphan
# part's own results when it ran too).
ALIASES = {"faults": ("fault_ack", "fault_lease", "fault_orphan")}
RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Sizes:
    requests: int
    warmup: int
    clients: int
    seconds: float
    open_points: list[int]
    due: int
    repeats: int
    reminders: int
    rate_limits: int
    # Crash mid-convene: (orphan time s, tick s, repeats) for each setting measured.
    orphan_settings: list[tuple[float, float, int]]
    # Faults: requests of each kind per scenario (after `fault_warmup` at full speed), Slack's latency, and how
    # long to wait for the convenings afterwards; reminders for two workers, with the lease and a longer latency.
    fault_requests: int
    fault_warmup: int
    fault_latency: float
    fault_drain: float
    lease_reminders: int
    lease_seconds: float
    lease_latency: float
    fault_orphan_settings: list[tuple[float, float, int]]


FULL = Sizes(requests=500, warmup=20, clients=20, seconds=10.0, open_points=[500, 5_000, 50_000], due=20,
             repeats=3, reminders=2_000, rate_limits=10, orphan_settings=[(1.0, 1.0, 3), (60.0, 20.0, 1)],
             fault_requests=100, fault_warmup=3, fault_latency=5.0, fault_drain=20.0, lease_reminders=500,
             lease_seconds=0.25, lease_latency=0.35, fault_orphan_settings=[(1.0, 1.0, 3)])
QUICK = Sizes(requests=10, warmup=2, clients=4, seconds=1.0, open_points=[50, 200], due=3, repeats=1,
              reminders=30, rate_limits=2, orphan_settings=[(1.0, 1.0, 1)], fault_requests=5, fault_warmup=1,
              fault_latency=5.0, fault_drain=5.0, lease_reminders=20, lease_seconds=0.25, lease_latency=0.35,
              fault_orphan_settings=[(1.0, 1.0, 1)])


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: checks the benchmark works (seconds)")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts to run, of: {','.join(PARTS)}, or faults (= "
                             f"{','.join(ALIASES['faults'])}) (default: all)")
    parser.add_argument("--json", type=Path, help="where to write the results (default: bench/results/<time>.json)")
    parser.add_argument("--no-postgres", action="store_true", help="scheduler scale on SQLite only")
    args = parser.parse_args(argv)
    named = [p.strip() for p in args.only.split(",") if p.strip()]
    args.parts = list(dict.fromkeys(part for p in named for part in ALIASES.get(p, (p,))))
    unknown = sorted(set(args.parts) - set(PARTS))
    if unknown:
        parser.error(f"--only: unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    return args


def _web(parts: list[str], sizes: Sizes, workdir: Path, results: dict[str, Any]) -> None:
    """The parts that need `pmccg serve`: acknowledgement latency, throughput, memory."""
    with StandIn() as standin, start_pmccg(workdir / "ours", standin.url) as ours, \
            start_bare(workdir / "bare", standin.url) as bare:
        time.sleep(1.0)  # let both settle before the idle reading
        memory: dict[str, Any] = {"idle_kib": ours.rss_kib(), "bare_idle_kib": bare.rss_kib()}
        db = workdir / "ours" / "pmccg.db"
        if "ack" in parts:
            results["ack"] = ack.latency(ours, bare, db, sizes.requests, sizes.warmup, drain_timeout=120,
                                         standin_url=standin.url)
        if "throughput" in parts:
            references = ack.cases_in(db)
            if not references:  # the latency part convened the cases; without it, convene a few now
                convener = ack.Requests(ours, ours=True)
                for _ in range(5):
                    convener.submission()
                ack.wait_for_cases(db, 5, 60)
                references = ack.cases_in(db)
            results["throughput"] = {"ours": ack.throughput(ours, references, sizes.clients, sizes.seconds),
                                     "bare": ack.throughput(bare, [], sizes.clients, sizes.seconds)}
            memory["after_throughput_kib"] = ours.rss_kib()
        if "memory" in parts:
            results["memory"] = memory


def run(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse(argv)
    sizes = QUICK if args.quick else FULL
    started = time.monotonic()
    use_pg = not args.no_postgres and bool({"scheduler", "fault_lease"} & set(args.parts)) and \
        scale.postgres_available()
    results: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "quick": args.quick,
                               "machine": report.machine(scale.PG_ADMIN_URL if use_pg else None),
                               "sizes": sizes.__dict__}
    with tempfile.TemporaryDirectory(prefix="pmccg-bench-") as tmp:
        workdir = Path(tmp)
        (workdir / "ours").mkdir()
        (workdir / "bare").mkdir()
        if {"ack", "throughput", "memory"} & set(args.parts):
            _web(args.parts, sizes, workdir, results)
        if "scheduler" in args.parts:
            backends = ["sqlite"] + (["postgresql"] if use_pg else [])
            results["scheduler"] = {b: scale.tick_scale(b, tmp, sizes.open_points, sizes.due, sizes.repeats)
                                    for b in backends}
        if "delivery" in args.parts:
            results["delivery"] = scale.delivery(tmp, sizes.reminders, sizes.rate_limits)
        if "orphan" in args.parts:
            results["orphan"] = orphan.crash_to_cleanup(tmp, sizes.orphan_settings)
        if "fault_ack" in args.parts:
            results["fault_ack"] = faults.ack_faults(workdir, sizes.fault_requests, sizes.fault_warmup,
                                                     sizes.fault_latency, sizes.fault_drain)
        if "fault_lease" in args.parts:
            if use_pg:
                results["fault_lease"] = faults.lease_faults(tmp, sizes.lease_reminders, sizes.lease_seconds,
                                                             sizes.lease_latency)
            else:
                print("fault_lease: skipped (it needs PostgreSQL; --no-postgres, or none at "
                      f"{scale.PG_ADMIN_URL})", file=sys.stderr)
        if "teams_ack" in args.parts:
            # An Action.Execute through `pmccg teams` against a bare Teams SDK app, in the same run.
            results["teams_ack"] = teams.ack_latency(workdir, sizes.requests, sizes.warmup)
        if "fault_orphan" in args.parts:
            results["fault_orphan"] = results["orphan"] if "orphan" in results else \
                orphan.crash_to_cleanup(tmp, sizes.fault_orphan_settings)
    results["goals"] = report.goals(results)
    results["seconds"] = round(time.monotonic() - started, 1)
    path = args.json or RESULTS / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}{'-quick' if args.quick else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    machine = results["machine"]
    print(f"PMCCG bot benchmark, {results['date']}: {machine['cpu']} x{machine['cpus']}, {machine['ram_gib']} GiB, "
          f"Python {machine['python']}, SQLite {machine['sqlite']}, PostgreSQL {machine['postgresql'] or '-'}")
    main_table = report.table(results)
    if main_table.count("\n") > 1:  # more than the header
        print(main_table)
    if report.has_faults(results):
        print(report.faults_table(results))
    if "teams_ack" in results:
        print(report.teams_table(results))
    missed = [goal for goal, met in results["goals"].items() if not met]
    print(f"Goals: {'all met' if not missed else 'missed: ' + ', '.join(missed)}. "
          f"{results['seconds']} s. Results: {path}")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    run(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
