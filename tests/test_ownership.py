"""Owners: who started each run, kept in owners.json beside the checkpoints; a bad file never breaks the server."""

import json
import logging
import os
import threading

from mnist_core.app.ownership import FILE_NAME, Owners


def owners_in(folder):
    return Owners(lambda: folder)


def test_a_recorded_run_has_its_owner_and_survives_a_new_instance(tmp_path):
    owners_in(tmp_path).record("cnn-20260101-000000", "browser:a")
    again = owners_in(tmp_path)  # a restarted server reads the file
    assert again.owner_of("cnn-20260101-000000") == "browser:a"
    assert again.owner_of("cnn-20260101-000001") is None
    assert sorted(os.listdir(tmp_path)) == [FILE_NAME]  # written atomically: no temporary file left


def test_a_study_owns_its_trials_and_only_them(tmp_path):
    owners = owners_in(tmp_path)
    owners.record_study("mine", "session:x")
    assert owners.owner_of("mine-trial0") == "session:x"
    assert owners.owner_of("mine-trial12") == "session:x"
    assert owners.owner_of("mine") is None
    assert owners.owner_of("mine-2-trial0") is None  # another study's trial
    assert owners.owned_by("session:x", ["mine-trial3", "other-trial3", "x"]) == {"mine-trial3"}


def test_forget_drops_a_run_but_keeps_its_study(tmp_path):
    owners = owners_in(tmp_path)
    owners.record("run", "a")
    owners.record_study("s", "a")
    owners.forget("run")
    owners.forget("s-trial1")  # a trial has no entry of its own: nothing to drop
    assert owners.owner_of("run") is None
    assert owners.owner_of("s-trial2") == "a"


def test_a_missing_folder_or_file_is_empty_and_the_first_record_makes_them(tmp_path):
    folder = tmp_path / "not-yet"
    owners = owners_in(folder)
    assert owners.owner_of("x") is None
    owners.record("x", "a")
    assert json.loads((folder / FILE_NAME).read_text())["runs"] == {"x": "a"}


def test_a_corrupt_file_is_logged_and_treated_as_empty(tmp_path, caplog):
    for content in ("{not json", "[1, 2]", '{"runs": {"x": 3}, "studies": "no"}'):
        (tmp_path / FILE_NAME).write_text(content)
        owners = owners_in(tmp_path)
        with caplog.at_level(logging.WARNING, logger="mnist_core.app.ownership"):
            assert owners.owner_of("x") is None
        owners.record("y", "b")  # and it is replaced by a good one
        assert owners_in(tmp_path).owner_of("y") == "b"
    assert "ignoring the owners file" in caplog.text


def test_an_unwritable_folder_is_logged_not_raised(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("")  # a file where the folder should be: mkdir fails
    owners = owners_in(blocker / "runs")
    with caplog.at_level(logging.WARNING, logger="mnist_core.app.ownership"):
        owners.record("x", "a")
    assert "could not write the owners file" in caplog.text
    assert owners.owner_of("x") is None


def test_concurrent_records_all_land(tmp_path):
    owners = owners_in(tmp_path)
    threads = [threading.Thread(target=owners.record, args=(f"run{i}", f"v{i}")) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {f"run{i}": f"v{i}" for i in range(20)} == json.loads((tmp_path / FILE_NAME).read_text())["runs"]


def test_two_instances_over_one_file_lose_no_update(tmp_path):
    """The job manager records and the registry forgets through instances of their own."""
    first, second = owners_in(tmp_path), owners_in(tmp_path)
    threads = [threading.Thread(target=(first, second)[i % 2].record, args=(f"run{i}", "v")) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(json.loads((tmp_path / FILE_NAME).read_text())["runs"]) == 20


def test_a_protected_study_protects_its_trials():
    from mnist_core.app.ownership import is_protected, study_of

    assert study_of("s-trial3") == "s" and study_of("cnn-20260101-000000") is None
    assert is_protected("s-trial3", {"s"}) and is_protected("run", {"run"})
    assert not is_protected("s2-trial3", {"s"}) and not is_protected("s", {"s-trial3"})
