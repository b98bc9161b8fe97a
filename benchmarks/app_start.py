"""`python app.py` from start to its first page, against a bare `import gradio` in a fresh interpreter.

Each round: time `import gradio` alone, then start the app (AppServer: a fresh checkpoint folder, a
free port) and time until `GET /` has answered.

    python benchmarks/app_start.py --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.server import AppServer  # noqa: E402

IMPORT_GRADIO = "import time; t = time.perf_counter(); import gradio; print(time.perf_counter() - t)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    pages, imports = [], []
    for _ in range(args.rounds):
        out = subprocess.run([sys.executable, "-c", IMPORT_GRADIO], capture_output=True, text=True, check=True)
        imports.append(float(out.stdout.strip()))
        started = time.perf_counter()
        with AppServer() as app:
            urllib.request.urlopen(app.url, timeout=60).read()
            pages.append(time.perf_counter() - started)
        print(f"first page {pages[-1]:.2f} s; import gradio alone {imports[-1]:.2f} s", flush=True)
    print(f"median: first page {statistics.median(pages):.2f} s, import gradio {statistics.median(imports):.2f} s")


if __name__ == "__main__":
    main()
