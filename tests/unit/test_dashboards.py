"""The files in dashboards/: Prometheus's config and alert rules pass promtool (check config, check rules,
and the alert unit tests of dashboards/tests/alerts_test.yml), and the Grafana boards are readable: every
panel has a unit and a legend per query, queries filter by the board's variables, and every metric the code
exports is on a board while every metric a board or rule names is one the code or docs/operations.md defines.

promtool comes with Debian's prometheus package (bin/shoal-docker-env installs it)."""

import json
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "dashboards"
BOARDS = ("reconciliation.json", "node.json")
METRIC = re.compile(r"\bshoal_[a-z_]+")


def promtool(*args: str) -> str:
    """Run promtool with ``args`` in dashboards/; its output, or the test fails with it."""
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: run bin/shoal-docker-env (installs Debian's prometheus)"
    done = subprocess.run([tool, *args], cwd=DASHBOARDS, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def panels(board: str) -> list[dict]:
    return json.loads((DASHBOARDS / board).read_text())["panels"]


def base_name(name: str) -> str:
    return re.sub(r"_(bucket|count|sum)$", "", name)


def test_promtool_accepts_the_prometheus_config_and_its_rule_file():
    out = promtool("check", "config", "prometheus.yml")
    assert "SUCCESS: 6 rules found" in out


def test_alert_rules_fire_and_resolve_in_promtools_unit_tests():
    promtool("test", "rules", "tests/alerts_test.yml")


@pytest.mark.parametrize("board", BOARDS)
def test_every_panel_has_a_unit_and_every_query_a_legend_of_its_own(board):
    for panel in panels(board):
        assert panel["fieldConfig"]["defaults"].get("unit"), panel["title"]
        legends = [target["legendFormat"] for target in panel["targets"]]
        assert all(legend and "__name__" not in legend for legend in legends), panel["title"]
        assert len(set(legends)) == len(legends), f"{panel['title']}: two queries share a legend"


@pytest.mark.parametrize("board, variables", [("reconciliation.json", {"service", "instance"}),
                                              ("node.json", {"instance"})])
def test_boards_define_the_variables_their_queries_use(board, variables):
    spec = json.loads((DASHBOARDS / board).read_text())
    defined = {variable["name"] for variable in spec["templating"]["list"]}
    assert variables | {"datasource"} <= defined
    used = {name for panel in spec["panels"] for target in panel["targets"]
            for name in re.findall(r"\$(\w+)", target["expr"])}
    assert used == variables


def exported_metrics() -> set[str]:
    """Names of the metrics the actors' code defines."""
    found = set()
    for path in (ROOT / "actors").rglob("*.py"):
        found |= set(re.findall(r'(?:(?:Counter|Gauge|Histogram|Summary)\(\s*|^NAME = )"(shoal_[a-z_]+)"', path.read_text(),
                                re.M))
    return found


def test_every_exported_metric_is_on_a_board():
    shown = {base_name(name) for board in BOARDS for name in METRIC.findall((DASHBOARDS / board).read_text())}
    assert exported_metrics() - shown == set()


def test_boards_and_rules_name_only_metrics_that_exist():
    documented = set(METRIC.findall((ROOT / "docs" / "operations.md").read_text()))
    named = {base_name(name) for source in (*BOARDS, "alerts.yml")
             for name in METRIC.findall((DASHBOARDS / source).read_text())}
    assert named - exported_metrics() - documented == set()
