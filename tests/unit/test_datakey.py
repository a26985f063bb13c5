"""A manager's data key file: written private and whole, opened only with its own key-encryption key and cluster."""

import stat

import pytest

from actors.common import datakey, sealing
from actors.common.hostconfig import HostConfig


def test_a_stored_data_key_loads_back_and_both_files_are_private(tmp_path):
    key = datakey.new()
    datakey.store_with_kek(tmp_path, "cluster-1", key)
    assert datakey.load(tmp_path, "cluster-1") == key
    for parts in (datakey.DATA_KEY_FILE, datakey.KEK_FILE):
        assert stat.S_IMODE(tmp_path.joinpath(*parts).stat().st_mode) == 0o600
    assert key.key not in tmp_path.joinpath(*datakey.DATA_KEY_FILE).read_bytes()
    assert not list(tmp_path.joinpath("keys").glob("*.tmp"))
    assert datakey.wrapped_by(tmp_path) == datakey.BY_KEK


def test_the_key_never_shows_in_its_repr():
    key = datakey.new()
    assert key.key.hex() not in repr(key) and repr(key.key) not in repr(key)


def test_a_file_of_another_cluster_does_not_open(tmp_path):
    datakey.store_with_kek(tmp_path, "cluster-1", datakey.new())
    with pytest.raises(datakey.DataKeyError):
        datakey.load(tmp_path, "cluster-2")


def test_another_managers_kek_does_not_open_it(tmp_path):
    key = datakey.new()
    datakey.store_with_kek(tmp_path / "a", "c", key)
    datakey.store_with_kek(tmp_path / "b", "c", key)
    (tmp_path / "a").joinpath(*datakey.KEK_FILE).write_bytes((tmp_path / "b").joinpath(*datakey.KEK_FILE).read_bytes())
    with pytest.raises(datakey.DataKeyError):
        datakey.load(tmp_path / "a", "c")


def test_a_damaged_or_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(datakey.DataKeyError, match="no data key"):
        datakey.load(tmp_path, "c")
    datakey.store_with_kek(tmp_path, "c", datakey.new())
    tmp_path.joinpath(*datakey.DATA_KEY_FILE).write_bytes(b"\x00garbage")
    with pytest.raises(datakey.DataKeyError, match="damaged"):
        datakey.load(tmp_path, "c")


def test_a_file_wrapped_by_the_unlock_key_is_locked_and_opens_only_with_that_key(tmp_path):
    key, kek = datakey.new(), sealing.new_key()
    datakey.wrap(tmp_path, "c", key, datakey.BY_UNLOCK_KEY, kek)
    with pytest.raises(datakey.Locked, match="shoal swarm unlock"):
        datakey.load(tmp_path, "c")
    with pytest.raises(sealing.SealError):
        datakey.unwrap(tmp_path, "c", sealing.new_key())
    assert datakey.unwrap(tmp_path, "c", kek) == key


def test_the_wire_form_round_trips_and_a_malformed_one_is_refused():
    key = datakey.new()
    assert datakey.from_wire(datakey.to_wire(key)) == key
    for bad in (None, {}, {"KeyID": "k", "Key": b"short"}, {"KeyID": 1, "Key": key.key}):
        with pytest.raises(datakey.DataKeyError):
            datakey.from_wire(bad)


def test_forget_removes_both_files(tmp_path):
    datakey.store_with_kek(tmp_path, "c", datakey.new())
    datakey.forget(tmp_path)
    datakey.forget(tmp_path)
    assert datakey.wrapped_by(tmp_path) is None


def test_for_actor_reads_the_managers_disk(tmp_path):
    key = datakey.new()
    datakey.store_with_kek(tmp_path, "c", key)
    config = HostConfig(tmp_path, "manager", "n", "c", "127.0.0.1", 5000, "h", [])
    assert datakey.for_actor(config) == key
