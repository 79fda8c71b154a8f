"""`make bench`: start a lab, run every tests/bench/bench_*.py, print wall time and API requests.

Each benchmark module exposes ``run(lab) -> list[dict]``; a row is
``{"name": str, "wall_seconds": float, "requests": {"vault": n, "keycloak": n, "kubernetes": n, ...}}``
plus optional ``notes``. Request counts come from the lab's per-service counters, so they are
deterministic and comparable between machines; wall time is indicative (2-core CI machines).
Results are also written to .bench/results.json.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
sys.path.insert(0, str(REPO_ROOT / "tests" / "lab"))

from atlas_lab.pytest_plugin import Lab  # noqa: E402  pylint: disable=wrong-import-position


def load_benchmarks(pattern: str) -> list[tuple[str, Any]]:
    modules = []
    for path in sorted(HERE.glob("bench_*.py")):
        if pattern not in path.stem:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append((path.stem, module))
    return modules


def format_rows(rows: list[dict[str, Any]]) -> str:
    services = sorted({service for row in rows for service in row.get("requests", {})})
    header = ["benchmark", "wall s"] + [f"{s} req" for s in services]
    table = [header]
    for row in rows:
        table.append([row["name"], f"{row['wall_seconds']:.2f}"]
                     + [str(row.get("requests", {}).get(s, 0)) for s in services])
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line))
             for line in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-k", dest="pattern", default="", help="only benchmarks whose file name contains this")
    parser.add_argument("--output", default=str(REPO_ROOT / ".bench" / "results.json"))
    args = parser.parse_args()

    benchmarks = load_benchmarks(args.pattern)
    if not benchmarks:
        print(f"no benchmark matches {args.pattern!r} in {HERE}", file=sys.stderr)
        return 1
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="atlas-bench-") as scratch:
        started = time.monotonic()
        lab = Lab.start(Path(scratch) / "lab")
        print(f"lab started in {time.monotonic() - started:.1f}s")
        try:
            for name, module in benchmarks:
                print(f"running {name} ...", flush=True)
                rows.extend(module.run(lab))
        finally:
            lab.stop()
    print()
    print(format_rows(rows))
    for row in rows:
        if row.get("notes"):
            print(f"  {row['name']}: {row['notes']}")
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\nresults written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
