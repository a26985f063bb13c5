"""What ls, ps and inspect share: ``-q``, ``--format`` and ``--filter``, and printing rows through a template."""

from __future__ import annotations

import json
import time

import click

from actors.cli.format import task_rows
from actors.cli.template import Template, TemplateError
from actors.common import filters
from transport.text import escaped

TASKS_FORMAT = ("table {{.ID}}\t{{.Name}}\t{{.Image}}\t{{.Node}}\t{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}"
                "\t{{.Ports}}")


def list_options(quiet_help: str, json_help: str = ""):
    """The ``-q``, ``--format`` and ``-f/--filter`` options of a listing command."""
    def decorate(function):
        for decorator in reversed((
                click.option("-q", "--quiet", is_flag=True, help=quiet_help),
                click.option("--format", "output", default=None,
                             help="Format output using a Go-style template: {{.ID}}, {{json .}}, 'table {{.ID}}\\t{{.Name}}'. "
                             + json_help),
                click.option("-f", "--filter", "filter_texts", multiple=True,
                             help="Filter output based on conditions provided (KEY=VALUE)."))):
            function = decorator(function)
        return function
    return decorate


def inspect_options(example: str):
    """The ``--pretty`` and ``-f/--format`` options and the REFS argument of an inspect command (``example``:
    a template for the help); with :func:`check_pretty`."""
    def decorate(function):
        for decorator in reversed((
                click.option("--pretty", is_flag=True, help="Print the information in a human friendly format."),
                click.option("-f", "--format", "output", default=None,
                             help=f"Format the output using a Go-style template ({example})."),
                click.argument("refs", nargs=-1, required=True))):
            function = decorator(function)
        return function
    return decorate


def check_pretty(pretty: bool, output: str | None) -> None:
    """A UsageError when an inspect is asked for both ``--pretty`` and ``--format``, as docker refuses it."""
    if pretty and output:
        raise click.UsageError("--format is incompatible with human friendly format")


def parsed_filters(texts, accepted: dict) -> dict:
    """``--filter`` values checked against the ``accepted`` keys; a UsageError when one is not."""
    try:
        return filters.parse(texts, accepted)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def rendered(output: str, rows: list) -> str:
    """``rows`` through the ``--format`` template ``output``; a UsageError for a template outside the subset."""
    try:
        return Template(output).render(rows)
    except TemplateError as exc:
        raise click.UsageError(str(exc)) from None


def show_inspected(found: list, refusal, output: str | None, pretty=None) -> None:
    """Print what an inspect of several refs ``found``: through ``pretty`` (a function of the list, with
    --pretty), the ``output`` template, or as JSON (``[]`` when nothing was found); then raise ``refusal``
    (client.each's, for the refs not found, or None), as Docker's inspect shows what it has, then fails."""
    if pretty and found:
        click.echo(pretty(found))
    elif output and found:
        click.echo(rendered(output, found))
    elif not (pretty or output):
        click.echo(json.dumps(found, indent=4))
    if refusal:
        raise refusal


def show(rows: list[dict], ids: list[str], quiet: bool, output: str | None, default: str) -> None:
    """Print ``rows``: only ``ids`` with ``-q``, through ``--format`` when given, else docker's ``default`` table."""
    if quiet:
        if ids:
            click.echo("\n".join(escaped(i) for i in ids))
        return
    click.echo(rendered(output or default, rows))


def show_tasks(tasks: list[dict], hostnames: dict, names: dict, no_trunc: bool, quiet: bool, output: str | None,
               filter_texts) -> None:
    """``service ps`` and ``node ps``: filtered tasks as rows; ``--format json`` prints the stored tasks."""
    accepted = filters.task_filters(names, hostnames)
    tasks = filters.keep(tasks, parsed_filters(filter_texts, accepted), accepted)
    if output == "json":
        click.echo(json.dumps(tasks, indent=2))
        return
    rows = task_rows(tasks, hostnames, names, time.time(), no_trunc)
    show(rows, [row["ID"] for row in rows], quiet, output, TASKS_FORMAT)
