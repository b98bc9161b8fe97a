"""Test infrastructure: the app in a subprocess, chromium flags, tiny configs and fake checkpoints, sketches."""
