"""Autolock's decisions: the unlock key's form, the cluster's fields, and how a manager's data key file is wrapped."""

import os

import pytest

from actors.common import autolock, datakey, sealing
from actors.common.hostconfig import HostConfig
from actors.common.unlocking import unlock
from actors.controlapi.keywrap import rewrap


def _cluster(**fields):
    return {"ID": "cluster-1", "Spec": {"Name": "default"}, "Shoal": {"AdminKeys": ["k"]}, **fields}


def _apply(cluster: dict, changes: dict) -> dict:
    """``changes`` (path -> value) applied to a copy of ``cluster``, as the store's patch does."""
    result = {**cluster, "Spec": dict(cluster["Spec"]), "Shoal": dict(cluster["Shoal"])}
    for path, value in changes.items():
        top, *middle, last = path.split(".")
        target = result[top]
        for part in middle:
            target = target.setdefault(part, {})
        target[last] = value
    return result


def test_an_unlock_key_is_shown_as_dockers_and_parses_back():
    key = autolock.new_key()
    text = autolock.show(key)
    assert text.startswith("SWMKEY-1-") and "=" not in text
    assert autolock.parse(f"  {text}\n") == key


@pytest.mark.parametrize("text", ["", "SWMKEY-1-", "SWMKEY-2-" + "A" * 43, "SWMKEY-1-!!!!", "SWMKEY-1-" + "A" * 20,
                                  "swmkey-1-" + "A" * 43])
def test_what_is_not_an_unlock_key_is_an_invalid_key(text):
    with pytest.raises(autolock.InvalidKey, match="^invalid key$"):
        autolock.parse(text)


def test_turning_autolock_on_seals_a_new_key_that_only_this_clusters_data_key_opens():
    data_key = datakey.new()
    cluster = _apply(_cluster(), autolock.changes(_cluster(), True, data_key))
    assert autolock.enabled(cluster) and cluster["Spec"]["EncryptionConfig"]["AutoLockManagers"] is True
    key = autolock.stored_key(cluster, data_key)
    assert len(key) == 32 and key not in repr(cluster).encode()
    with pytest.raises(sealing.SealError):
        autolock.stored_key(cluster, datakey.new())
    with pytest.raises(sealing.SealError):
        autolock.stored_key({**cluster, "ID": "cluster-2"}, data_key)


def test_turning_it_on_again_keeps_the_key_and_off_drops_it():
    data_key = datakey.new()
    cluster = _apply(_cluster(), autolock.changes(_cluster(), True, data_key))
    assert autolock.changes(cluster, True, data_key) == {} and autolock.changes(cluster, None, data_key) == {}
    off = _apply(cluster, autolock.changes(cluster, False, data_key))
    assert not autolock.enabled(off) and autolock.stored_key(off, data_key) is None
    assert off["Spec"]["EncryptionConfig"]["AutoLockManagers"] is False
    assert autolock.changes(_cluster(), False, data_key) == {}


def test_rotation_gives_a_new_key_and_needs_autolock():
    data_key = datakey.new()
    cluster = _apply(_cluster(), autolock.changes(_cluster(), True, data_key))
    rotated = _apply(cluster, autolock.rotation(cluster, data_key))
    assert autolock.stored_key(rotated, data_key) != autolock.stored_key(cluster, data_key)
    with pytest.raises(ValueError, match=autolock.NO_KEY):
        autolock.rotation(_cluster(), data_key)


def test_reads_never_show_the_sealed_key():
    cluster = _apply(_cluster(), autolock.changes(_cluster(), True, datakey.new()))
    shown = autolock.shown(cluster)
    assert "UnlockKey" not in shown["Shoal"] and shown["Shoal"]["AdminKeys"] == ["k"]
    assert "UnlockKey" in cluster["Shoal"]  # the view's object is left alone
    assert autolock.shown(_cluster()) == _cluster()


def test_the_wrapping_key_depends_on_the_unlock_key():
    one, other = autolock.new_key(), autolock.new_key()
    assert autolock.wrapping_key(one) == autolock.wrapping_key(one) != autolock.wrapping_key(other)
    assert autolock.wrapping_key(one) != one


def _manager(tmp_path) -> HostConfig:
    return HostConfig(tmp_path, "manager", "n1", "cluster-1", "127.0.0.1", 5000, "h", [])


def test_a_manager_rewraps_its_file_as_the_cluster_says_and_only_when_needed(tmp_path):
    data_key = datakey.new()
    datakey.store_with_kek(tmp_path, "cluster-1", data_key)
    plain = _cluster()
    assert rewrap(tmp_path, plain, data_key) is None
    locked = _apply(plain, autolock.changes(plain, True, data_key))
    assert rewrap(tmp_path, locked, data_key) == datakey.BY_UNLOCK_KEY
    assert not tmp_path.joinpath(*datakey.KEK_FILE).exists()
    with pytest.raises(datakey.Locked):
        datakey.load(tmp_path, "cluster-1")
    assert rewrap(tmp_path, locked, data_key) is None
    text = autolock.show(autolock.stored_key(locked, data_key))
    assert unlock(_manager(tmp_path), text) == data_key

    rotated = _apply(locked, autolock.rotation(locked, data_key))
    assert rewrap(tmp_path, rotated, data_key) == datakey.BY_UNLOCK_KEY
    with pytest.raises(autolock.InvalidKey):
        unlock(_manager(tmp_path), text)  # the key before the rotation no longer opens it
    assert unlock(_manager(tmp_path), autolock.show(autolock.stored_key(rotated, data_key))) == data_key

    off = _apply(rotated, autolock.changes(rotated, False, data_key))
    assert rewrap(tmp_path, off, data_key) == datakey.BY_KEK
    assert datakey.load(tmp_path, "cluster-1") == data_key


def test_a_wrong_or_malformed_unlock_key_is_refused_and_changes_nothing(tmp_path):
    data_key, key = datakey.new(), autolock.new_key()
    datakey.wrap_with_unlock_key(tmp_path, "cluster-1", data_key, autolock.wrapping_key(key))
    before = tmp_path.joinpath(*datakey.DATA_KEY_FILE).read_bytes()
    for text in (autolock.show(autolock.new_key()), "not a key", ""):
        with pytest.raises(autolock.InvalidKey, match="^invalid key$"):
            unlock(_manager(tmp_path), text)
    assert tmp_path.joinpath(*datakey.DATA_KEY_FILE).read_bytes() == before
    assert unlock(_manager(tmp_path), autolock.show(key)) == data_key


def test_the_handoff_pipe_gives_an_actor_the_key_once_read(tmp_path, monkeypatch):
    data_key = datakey.new()
    monkeypatch.setattr(datakey, "_handed", None)
    monkeypatch.setenv(datakey.HANDOFF_ENV, str(datakey.handoff(data_key)))
    assert datakey.for_actor(_manager(tmp_path)) == data_key  # nothing on this disk: it came by the pipe
    assert datakey.HANDOFF_ENV not in os.environ
    assert datakey.for_actor(_manager(tmp_path)) == data_key
