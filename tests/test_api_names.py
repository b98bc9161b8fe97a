"""The API the server really serves is the one the README documents (issue 19, defect 1).

Gradio names an event after its function when it is given no name, private events included, and a
later event asking for a taken name silently gets `<name>_1`: `explain` was served as `/explain_2`.
"""

from __future__ import annotations

import re

import pytest
from gradio_client import Client, handle_file

from tests.support.drawings import seven_png
from tests.support.server import REPO, AppServer


def documented_events(readme: str) -> set[str]:
    """The names in the README's "API events: ..." sentence (its backticked identifiers, parentheses
    skipped, up to the full stop that ends it)."""
    text = readme[readme.index("API events:") + len("API events:") :]
    depth, kept = 0, []
    for i, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "." and depth == 0 and (i + 1 == len(text) or text[i + 1].isspace()):
            break
        if depth == 0 and char != ")":
            kept.append(char)
    return set(re.findall(r"`([a-z_]+)`", "".join(kept)))


def test_the_readme_sentence_is_parsed_as_written():
    readme = (REPO / "README.md").read_text()
    names = documented_events(readme)
    assert {"predict", "read_number", "explain", "runs"} <= names
    assert "number" not in names and "box" not in names  # inside the parentheses: a shape, not an event
    assert documented_events("API events: `a` (`{x}`, `b_c`), `d` and `e`. Not `f`.") == {"a", "d", "e"}


@pytest.fixture(scope="module")
def server():
    with AppServer() as app_server:
        yield app_server


@pytest.fixture(scope="module")
def client(server) -> Client:
    return Client(server.url, verbose=False)


def test_every_documented_event_is_served_under_its_name_and_nothing_else(client):
    served = client.view_api(print_info=False, return_format="dict")
    named = {name.lstrip("/") for name in served["named_endpoints"]}
    assert named == documented_events((REPO / "README.md").read_text())
    assert not served["unnamed_endpoints"]


def test_explain_answers_under_its_documented_name(client, tmp_path):
    info, attribution, neighbours, layers = client.predict(
        handle_file(str(seven_png(tmp_path))), None, api_name="/explain"
    )
    assert info.startswith("Reads **"), info
    assert attribution and layers
    assert isinstance(neighbours, list)
