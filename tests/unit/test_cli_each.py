"""Commands given several refs (``secret rm a b``, ``secret inspect a b``, ...) act on each as Docker's do:
a refusal of one does not stop the others; an unreachable cluster stops at once."""

import pytest

from actors.cli import client
from actors.cli.client import CliError, Refused
from transport.rpccall import RpcError, RpcTimeout


def test_each_goes_on_past_refusals_and_reports_them_all(capsys):
    asked = []

    def ask(ref):
        asked.append(ref)
        if ref.startswith("missing"):
            raise Refused(f"no such secret: {ref}")
        return ref.upper()

    answers, error = client.each(["a", "missing1", "b", "missing2"], ask)
    assert asked == ["a", "missing1", "b", "missing2"] and answers == ["A", "B"]
    assert error.format_message() == "no such secret: missing2"  # the caller raises it after its output
    assert capsys.readouterr().err == "Error: no such secret: missing1\n"
    assert client.each(["a"], ask) == (["A"], None)


def test_each_stops_at_an_error_that_is_not_a_refusal():
    def ask(ref):
        raise CliError("cannot reach the cluster")

    with pytest.raises(CliError, match="cannot reach"):
        client.each(["a", "b"], ask)


def test_a_server_error_is_a_refusal_and_a_timeout_is_not_with_a_fake_transport(monkeypatch):
    def answering(*args):
        raise RpcError("not_found", "no such secret: x")
    monkeypatch.setattr(client, "_call", answering)
    with pytest.raises(Refused, match="no such secret: x"):
        client.call_endpoint("tcp://127.0.0.1:1", None, b"", "secret_inspect", {"ref": "x"})

    def silent(*args):
        raise RpcTimeout("no answer")
    monkeypatch.setattr(client, "_call", silent)
    with pytest.raises(CliError) as raised:
        client.call_endpoint("tcp://127.0.0.1:1", None, b"", "secret_inspect", {"ref": "x"})
    assert not isinstance(raised.value, Refused)


def test_inspect_shows_what_it_found_then_fails_for_the_rest(capsys):
    from actors.cli import listing
    missing = Refused("no such secret: b")
    with pytest.raises(Refused):
        listing.show_inspected([{"Spec": {"Name": "a"}}], missing, "{{.Spec.Name}}")
    assert capsys.readouterr().out == "a\n"
    with pytest.raises(Refused):
        listing.show_inspected([], missing, None)
    assert capsys.readouterr().out == "[]\n"  # as Docker's JSON
    with pytest.raises(Refused):
        listing.show_inspected([], missing, None, pretty=lambda found: "never")
    assert capsys.readouterr().out == ""
    listing.show_inspected([{"Spec": {"Name": "a"}}], None, None, pretty=lambda found: f"{len(found)} shown")
    assert capsys.readouterr().out == "1 shown\n"
