"""Image outputs as PNG files that Gradio copies into its cache with its own atomic `save_file_to_cache`.

Gradio's path for arrays (`save_pil_to_cache`) rewrites a content-named file in place, so two
visitors getting the same image (a digit's 28x28 view, the Data tab's samples) could fetch it
half-written. Handing Gradio a file path instead uses its supported route: the file is hashed and
copied under a temporary name, then renamed into place. Our own files are written the same way,
named by their content, and the ones unused for an hour are removed.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from ..atomic import atomic_write_bytes

MAX_AGE_SECONDS = 3600
DIGIT_GALLERY = "digit-gallery"  # elem_classes of the galleries of many small digits (Data, Evaluate)
# Gradio's gallery keeps its `columns` at any width, each at least 100 px: on a phone a 10-column
# gallery of digits showed 3 of each row and hid the rest. There the columns fill the width instead.
GALLERY_CSS = f"""
@media (max-width: 640px) {{
  .{DIGIT_GALLERY} .grid-container {{ grid-template-columns: repeat(auto-fill, minmax(64px, 1fr)) !important; }}
}}
"""
_PRUNE_EVERY_SECONDS = 600
_folder: Path | None = None
_last_prune = 0.0
_lock = threading.Lock()


def _images_folder() -> Path:
    """A folder of this process under the system temp directory (a place Gradio accepts files from)."""
    global _folder
    with _lock:
        if _folder is None:
            _folder = Path(tempfile.mkdtemp(prefix="mnist-lab-images-"))
        return _folder


def png_file(image: np.ndarray | Image.Image) -> str:
    """The path of a PNG of `image` (uint8 array or PIL image), written atomically, named by content."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image, dtype=np.uint8))
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG", compress_level=1)  # small images: speed matters more than bytes
    data = buffer.getvalue()
    folder = _images_folder()
    path = folder / f"{hashlib.sha256(data).hexdigest()[:32]}.png"
    if path.exists():
        os.utime(path)  # in use again: not to be pruned
    else:
        atomic_write_bytes(path, data, durable=False)  # a throwaway file: no fsync on a drawing's path
    _prune(folder)
    return str(path)


def _prune(folder: Path) -> None:
    """Every ten minutes at most, remove the files unused for an hour (a server runs for weeks)."""
    global _last_prune
    now = time.time()
    with _lock:
        if now - _last_prune < _PRUNE_EVERY_SECONDS:
            return
        _last_prune = now
    for path in folder.iterdir():
        try:
            if now - path.stat().st_mtime > MAX_AGE_SECONDS:
                path.unlink()
        except OSError:
            pass  # already gone, or in use on a platform that refuses
