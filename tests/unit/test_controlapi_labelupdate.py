"""Docker's update of a secret or config (actors/controlapi/labelupdate.py): labels only, as swarmkit."""

import pytest

from actors.common import sealing
from actors.controlapi import labelupdate, secrets
from transport.rpc import RpcError

KEY = sealing.new_key()
SECRET = {"ID": "x1", "Version": {"Index": 7}, "Spec": {"Name": "pw", "Labels": {"a": "b"}},
          "Sealed": sealing.seal(KEY, "k1", b"x1", b"hunter2")}
CONFIG = {"ID": "c1", "Version": {"Index": 3}, "Spec": {"Name": "conf", "Labels": {}, "Data": b"line\n"}}


def refused(code, message, *args):
    with pytest.raises(RpcError) as raised:
        labelupdate.label_changes(*args)
    assert raised.value.code == code and raised.value.message == message
    assert b"hunter2".decode() not in raised.value.message


def test_new_labels_are_the_change_and_the_same_data_may_come_along():
    assert labelupdate.label_changes(secrets.SECRET, SECRET, 7, {"Name": "pw", "Labels": {"a": "c"}}, b"hunter2", KEY) == {
        "Spec.Labels": {"a": "c"}}
    assert labelupdate.label_changes(secrets.CONFIG, CONFIG, 3, {"Name": "conf"}, b"line\n", KEY) == {}
    assert labelupdate.label_changes(secrets.SECRET, SECRET, 7, {"Name": "pw", "Labels": {"a": "b"}}, None, KEY) == {}


def test_other_data_or_a_new_name_is_refused_in_swarmkits_words():
    refused("invalid", "only updates to Labels are allowed", secrets.SECRET, SECRET, 7, {"Name": "pw"}, b"hunter3", KEY)
    refused("invalid", "only updates to Labels are allowed", secrets.CONFIG, CONFIG, 3, {"Name": "conf"}, b"other", KEY)
    refused("invalid", "only updates to Labels are allowed", secrets.SECRET, SECRET, 7, {"Name": "pw2"}, None, KEY)


def test_an_update_from_another_version_is_out_of_sequence():
    refused("out_of_sequence", "update out of sequence", secrets.SECRET, SECRET, 6, {"Name": "pw"}, None, KEY)
    refused("invalid", "a secret update must carry the version of the secret it was made from",
            secrets.SECRET, SECRET, None, {"Name": "pw"}, None, KEY)
