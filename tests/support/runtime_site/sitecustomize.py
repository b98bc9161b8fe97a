"""Makes the modules named in MNIST_TEST_BLOCKED_MODULES unimportable (tests/support/runtime_only.py):
a process started with this folder on PYTHONPATH has only what requirements.txt installs."""

import os
import sys

_BLOCKED = frozenset(filter(None, os.environ.get("MNIST_TEST_BLOCKED_MODULES", "").split(",")))


class _Blocked:
    """A meta-path finder that refuses the blocked top-level modules (and everything under them)."""

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in _BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (not in requirements.txt)", name=name)
        return None


if _BLOCKED:
    sys.meta_path.insert(0, _Blocked())
