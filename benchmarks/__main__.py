"""Entry point: `python -m benchmarks [--quick] [--scenarios 1,2] [--out DIR]`."""

from __future__ import annotations

import sys

from benchmarks.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
