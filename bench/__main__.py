"""`make bench`: run every benchmark; each writes its own section of bench/RESULTS.md."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

BENCHES = ("bench_store", "bench_adapters", "bench_wall", "bench_latency", "bench_serving",
           "bench_scale", "bench_public", "bench_failover", "bench_fusion", "bench_action",
           "bench_cache_growth", "bench_browser", "bench_desk", "bench_sms")


def main() -> int:
    here = Path(__file__).resolve().parent
    failed = []
    for name in BENCHES:
        print(f"== {name}", flush=True)
        try:
            runpy.run_path(str(here / f"{name}.py"), run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (0, None):
                failed.append(name)
        except Exception as exc:  # report and go on with the next benchmark
            print(f"{name} failed: {exc!r}", file=sys.stderr)
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
