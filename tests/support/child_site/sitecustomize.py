"""Put on PYTHONPATH by tests.support.hold.child_env: applies the test's holds in this process at start-up.

Loaded from its file, not as `tests.support.hold`, so that it works from any working directory.
"""

import importlib.util
import sys
from pathlib import Path

_spec = importlib.util.spec_from_file_location("_mnist_test_hold", Path(__file__).resolve().parent.parent / "hold.py")
_hold = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _hold  # dataclasses look their module up there
_spec.loader.exec_module(_hold)
_hold.install_from_env()
