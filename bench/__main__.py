from __future__ import annotations

import argparse
import importlib
import sys

BENCHMARKS = {
    "startup": "bench.startup",
    "validation": "bench.validation",
    "netconf": "bench.netconf",
    "notify": "bench.notify",
    "reset": "bench.reset",
    "scale": "bench.scale",
    "ssh": "bench.ssh",
    "soap": "bench.soap",
    "fixture": "bench.fixture",
    "drill": "bench.drill",
    "console": "bench.console",
    "fairness": "bench.fairness",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})")
    args, rest = parser.parse_known_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {unknown[0]!r} (known: {', '.join(BENCHMARKS)})")
    for name in args.names or BENCHMARKS:
        importlib.import_module(BENCHMARKS[name]).main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
