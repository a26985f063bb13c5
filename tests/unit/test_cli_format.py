"""CLI formatting: durations, ages, tables, task rows, progress lines, publish specs."""

import click
import pytest

from actors.cli.format import human_age, parse_duration, table, task_rows
from actors.cli.progress import picture
from actors.cli.service import parse_publish
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
    rows = task_rows(tasks, {"n": "host"}, "web", 100.0, no_trunc=False)
    assert [r[1] for r in rows] == ["web.1", " \\_ web.1"]
    assert rows[0][5] == "Running 5 seconds ago" and rows[1][6] == '"task: non-zero exit (137)"'


def test_progress_picture_converges_and_spots_hopeless_rejections():
    service = {"Spec": {"Name": "web", "Mode": {"Replicated": {"Replicas": 1}}}}
    running = [{"Slot": 1, "CreatedAt": "1", "DesiredState": "running", "Status": {"State": "running"}}]
    lines, converged, hopeless = picture(service, running)
    assert converged and not hopeless and lines[0] == "overall progress: 1 out of 1 tasks"
    rejected = [{"Slot": 1, "CreatedAt": "1", "DesiredState": "running",
                 "Status": {"State": "rejected", "Err": "No such image: x"}}]
    lines, converged, hopeless = picture(service, rejected)
    assert not converged and hopeless and lines[1] == "1/1: No such image: x"


def test_progress_after_scale_down_waits_for_removed_tasks_except_on_down_nodes():
    service = {"Spec": {"Name": "web", "Mode": {"Replicated": {"Replicas": 1}}}}
    tasks = [{"Slot": 1, "CreatedAt": "1", "DesiredState": "running", "Status": {"State": "running"}, "NodeID": "a"},
             {"Slot": 2, "CreatedAt": "1", "DesiredState": "shutdown", "Status": {"State": "running"}, "NodeID": "b"}]
    assert not picture(service, tasks)[1]
    assert picture(service, tasks, {"b"})[1]


def test_publish_forms():
    assert parse_publish("published=8080,target=80,mode=host") == {"TargetPort": 80, "PublishedPort": 8080,
                                                                  "Protocol": "tcp", "PublishMode": "host"}
    assert parse_publish("8080:80/udp")["Protocol"] == "udp"
    with pytest.raises(click.BadParameter):
        parse_publish("eighty")
