"""CLI formatting: durations, ages, tables, task rows, progress lines, scale pairs, one-line errors."""

import sys
from dataclasses import astuple

import click
import pytest

from actors.cli import main
from actors.cli.client import CliError
from actors.cli.format import human_age, table, task_rows
from actors.common.durations import parse_duration
from actors.cli.main import run
from actors.cli.progress import picture
from actors.cli.service import parse_scale
from actors.cli.swarm import parse_addr
from transport import limits
from transport.schema import format_time


@pytest.mark.parametrize("text, nanos", [("0", 0), ("300ms", 300_000_000), ("5s", 5_000_000_000),
                                         ("1m30s", 90_000_000_000), ("1.5h", 5_400_000_000_000)])
def test_durations(text, nanos):
    assert parse_duration(text) == nanos


@pytest.mark.parametrize("bad", ["soon", "5", "5x", "s5", ""])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize("seconds, text", [(0.2, "Less than a second"), (1, "1 second"), (5, "5 seconds"),
                                           (70, "About a minute"), (180, "3 minutes"), (3700, "About an hour"),
                                           (7200 * 3, "6 hours")])
def test_ages(seconds, text):
    assert human_age(seconds) == text


def test_table_aligns_columns():
    assert table(["A", "BB"], [["xxx", "y"]]) == "A     BB\nxxx   y"


def test_task_rows_show_history_under_the_current_task():
    tasks = [{"ID": "old", "Slot": 1, "NodeID": "n", "CreatedAt": "1", "DesiredState": "shutdown",
              "Spec": {"ContainerSpec": {"Image": "img"}},
              "Status": {"State": "failed", "Timestamp": format_time(90), "Err": "task: non-zero exit (137)"}},
             {"ID": "new", "Slot": 1, "NodeID": "n", "CreatedAt": "2", "DesiredState": "running",
              "Spec": {"ContainerSpec": {"Image": "img"}}, "Status": {"State": "running", "Timestamp": format_time(95)}}]
    rows = task_rows([dict(t, ServiceID="s") for t in tasks], {"n": "host"}, {"s": "web"}, 100.0, no_trunc=False)
    assert [r["Name"] for r in rows] == ["web.1", " \\_ web.1"]
    assert rows[0]["CurrentState"] == "Running 5 seconds ago" and rows[1]["Error"] == '"task: non-zero exit (137)"'


def test_progress_picture_converges_and_spots_hopeless_rejections():
    service = {"Spec": {"Name": "web", "Mode": {"Replicated": {"Replicas": 1}}}}
    running = [{"Slot": 1, "CreatedAt": "1", "DesiredState": "running", "Status": {"State": "running"}}]
    lines, converged, hopeless = astuple(picture(service, running))
    assert converged and not hopeless and lines[0] == "overall progress: 1 out of 1 tasks"
    rejected = [{"Slot": 1, "CreatedAt": "1", "DesiredState": "running",
                 "Status": {"State": "rejected", "Err": "No such image: x"}}]
    lines, converged, hopeless = astuple(picture(service, rejected))
    assert not converged and hopeless and lines[1] == "1/1: No such image: x"


def test_progress_after_scale_down_waits_for_removed_tasks_except_on_down_nodes():
    service = {"Spec": {"Name": "web", "Mode": {"Replicated": {"Replicas": 1}}}}
    tasks = [{"Slot": 1, "CreatedAt": "1", "DesiredState": "running", "Status": {"State": "running"}, "NodeID": "a"},
             {"Slot": 2, "CreatedAt": "1", "DesiredState": "remove", "Status": {"State": "running"}, "NodeID": "b"}]
    assert not picture(service, tasks).converged
    assert picture(service, tasks, {"b"}).converged


def test_progress_after_a_scale_down_that_removed_a_middle_slot():
    service = {"Spec": {"Name": "web", "Mode": {"Replicated": {"Replicas": 2}}}}
    tasks = [{"Slot": slot, "CreatedAt": "1", "DesiredState": desired, "Status": {"State": state}, "NodeID": "a"}
             for slot, desired, state in ((1, "running", "running"), (2, "remove", "shutdown"), (3, "running", "running"))]
    shown = picture(service, tasks)
    assert shown.converged and shown.lines[0] == "overall progress: 2 out of 2 tasks"
    assert [line.split(":")[0] for line in shown.lines[1:]] == ["1/2", "2/2"]
    tasks[1]["DesiredState"] = "running"  # before the orchestrator chose which slot goes: three for two
    assert not picture(service, tasks).converged


# -- nothing from the store reaches the terminal raw; numbers have ranges ---------------------

def test_table_cells_show_control_characters_escaped():
    out = table(["HOSTNAME"], [["evil\x1b[2J\x1b]0;owned\x07\nnext\u202e"]])
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and out.count("\n") == 1
    assert "evil\\x1b[2J\\x1b]0;owned\\x07\\nnext\\u202e" in out


def test_task_rows_survive_a_garbage_timestamp_and_escape_errors():
    task = {"ID": "t", "Slot": 1, "DesiredState": "running", "Spec": {"ContainerSpec": {"Image": "img"}},
            "Status": {"State": "failed", "Timestamp": "garbage", "Err": "\x1b[31mred"}}
    row = task_rows([dict(task, ServiceID="s")], {}, {"s": "web"}, 100.0, no_trunc=True)[0]
    assert row["CurrentState"].startswith("Failed") and "\x1b" not in table(["E"], [[row["Error"]]])


def test_progress_lines_escape_errors():
    service = {"Spec": {"Name": "web", "Mode": {"Replicated": {"Replicas": 1}}}}
    rejected = [{"Slot": 1, "CreatedAt": "1", "DesiredState": "running", "Status": {"State": "rejected", "Err": "x\x1b[2Jy"}}]
    assert picture(service, rejected).lines[1] == "1/1: x\\x1b[2Jy"


@pytest.mark.parametrize("pair, expected", [("web=3", ("web", 3)), ("web=0", ("web", 0)),
                                            (f"web={limits.REPLICAS}", ("web", limits.REPLICAS))])
def test_scale_pairs(pair, expected):
    assert parse_scale(pair) == expected


@pytest.mark.parametrize("pair", ["web=abc", "web=²", "web=-1", "web", "=3", f"web={limits.REPLICAS + 1}", "web=1e3"])
def test_bad_scale_pairs_are_one_click_error(pair):
    with pytest.raises(click.BadParameter):
        parse_scale(pair)


@pytest.mark.parametrize("args, message", [
    (["service", "create", "--replicas", "99999999999999999999999", "img"], "is not in the range 0<=x<=100000"),
    (["service", "create", "--timeout", "nan", "img"], "'nan' is not a number of seconds"),
    (["service", "create", "--restart-delay", "99999999999999999999h", "img"], "invalid duration"),
    (["service", "create", "-p", "99999999999999999999:80", "img"], "ports are 1-65535"),
    (["service", "scale", "web=1000000000"], "at most 100000 replicas"),
])
def test_out_of_range_options_are_one_line_errors(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["shoal", "--state-dir", str(tmp_path), *args])
    with pytest.raises(SystemExit) as exited:
        run()
    err = capsys.readouterr().err
    assert exited.value.code != 0 and err.count("\n") == 1 and message in err and "Traceback" not in err


def test_error_lines_escape_what_the_cluster_sent(monkeypatch, capsys):
    def fail(*_args, **_kwargs):
        raise CliError("no such service: \x1b[2Jboom\nsecond line")
    monkeypatch.setattr(main, "cli", type("Cli", (), {"main": staticmethod(fail)}))
    with pytest.raises(SystemExit):
        run()
    assert capsys.readouterr().err == "Error: no such service: \\x1b[2Jboom\\nsecond line\n"


@pytest.mark.parametrize("text, expected", [("127.0.0.1:3000", ("127.0.0.1", 3000)), ("manager-1", ("manager-1", 2377))])
def test_addresses_given_to_init_and_join(text, expected):
    assert parse_addr(text) == expected


@pytest.mark.parametrize("text", ["not an address:3000", "a..b:3000", "\x1b[2J:3000", "127.0.0.1:65530", ":3000"])
def test_bad_addresses_given_to_init_and_join_are_one_click_error(text):
    with pytest.raises(click.BadParameter):
        parse_addr(text)
