"""The engine's labels as a node reports them, for ``engine.labels.*`` constraints."""

from actors.common.constraints import matches, parse
from actors.executor.engine import engine_labels
from transport import limits, model


def test_docker_infos_list_becomes_a_map():
    assert engine_labels(["storage=ssd", "zone=eu=1", "flag"]) == {"storage": "ssd", "zone": "eu=1", "flag": ""}
    assert engine_labels(None) == {} and engine_labels([]) == {}


def test_labels_the_model_refuses_are_left_out_and_the_count_is_bounded():
    listed = ["=empty-key", "bad\x1b=x", "ok=1"] + [f"k{n}=v" for n in range(limits.LABELS + 5)]
    labels = engine_labels(listed)
    assert "" not in labels and "bad\x1b" not in labels and labels["ok"] == "1"
    assert len(labels) == limits.LABELS
    model.node_description({"Engine": {"Labels": labels}}, "Description")


def test_an_engine_label_constraint_matches_the_reported_labels():
    node = {"ID": "n1", "Description": {"Engine": {"Labels": engine_labels(["storage=ssd"])}}}
    assert matches(parse(["engine.labels.storage==ssd"]), node)
    assert not matches(parse(["engine.labels.storage==hdd"]), node)
