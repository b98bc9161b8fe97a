"""The run registry's table: what it says about a run matches what the run did."""

from __future__ import annotations

import pytest

from mnist_core.app.registry import RunRegistry
from tests.support.fixtures import fake_checkpoint


@pytest.mark.parametrize("train_size, val_size, expected", [(60000, 5000, 55000), (0, 5000, 55000), (2000, 500, 2000)])
def test_runs_table_counts_the_images_trained_on(tmp_path, train_size, val_size, expected):
    fake_checkpoint(tmp_path / "run.pt", train_size=train_size, val_size=val_size)
    table = RunRegistry(directory=tmp_path, bundled=None).dataframe()
    assert table.loc[0, "train images"] == expected


def test_runs_table_headers_read_as_words_not_code(tmp_path):
    fake_checkpoint(tmp_path / "run.pt")
    table = RunRegistry(directory=tmp_path, bundled=None).dataframe()
    assert [c for c in table.columns if "_" in c] == []  # not test_acc, train_seconds...
    assert {"test accuracy", "train time (s)", "batch size"} <= set(table.columns)
