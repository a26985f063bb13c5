"""What ``shoal secret`` and ``shoal config`` share: create, ls, inspect and rm, with Docker's flags and
output (a secret's data is never shown: the control API never returns it)."""

from __future__ import annotations

import base64
import sys
import time

import click

from actors.cli import listing
from actors.cli.client import ControlClient, each, remove_each
from actors.cli.flagvalues import key_value
from actors.cli.format import human_age
from actors.cli.pretty import data_object_pretty
from transport import limits, schema

# Docker's filters of secret ls and config ls, which the control API applies (its secrets.LS_FILTERS).
LS_FILTERS = dict.fromkeys(("id", "name", "label"))
TEMPLATE_DRIVER_REFUSAL = "--template-driver is not supported: Shoal delivers a config's data as it is"


def read_data(noun: str, source: str) -> bytes:
    """The bytes of file ``source`` (``-``: standard input), refused past Swarm's limit without reading
    further; click.ClickException naming the file when it cannot be read."""
    try:
        if source == "-":
            data = sys.stdin.buffer.read(limits.SECRET_BYTES)
        else:
            with open(source, "rb") as stream:
                data = stream.read(limits.SECRET_BYTES)
    except OSError as exc:
        raise click.ClickException(f'error reading content from "{source}": {exc.strerror or exc}') from None
    if not 0 < len(data) < limits.SECRET_BYTES:
        raise click.ClickException(f"{noun} data must be larger than 0 and less than {limits.SECRET_BYTES} bytes")
    return data


def labels_of(texts) -> dict[str, str]:
    """``--label KEY=VALUE`` values as a map; a UsageError naming a malformed one."""
    labels = {}
    for text in texts:
        try:
            key, value = key_value(text)
        except ValueError as exc:
            raise click.UsageError(f'invalid argument "{text}" for "--label" flag: {exc}') from None
        labels[key] = value
    return labels


def jsonable(value):
    """``value`` with every bytes value as base64 text, as Docker's JSON shows a config's data."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: jsonable(entry) for key, entry in value.items()}
    if isinstance(value, list):
        return [jsonable(entry) for entry in value]
    return value


def ls_row(obj: dict, now: float) -> dict:
    """A ``secret ls``/``config ls`` row: Docker's fields (``CreatedAt`` as an age), plus ``Created`` and
    ``Updated`` for the default table's headers."""
    created = f"{human_age(now - schema.stored_time(obj.get('CreatedAt')))} ago"
    updated = f"{human_age(now - schema.stored_time(obj.get('UpdatedAt')))} ago"
    spec = obj["Spec"]
    return {"ID": obj["ID"], "Name": spec["Name"], "Driver": "", "CreatedAt": created, "UpdatedAt": updated,
            "Created": created, "Updated": updated,
            "Labels": ",".join(f"{k}={v}" for k, v in sorted((spec.get("Labels") or {}).items()))}


def add_commands(group: click.Group, noun: str, ls_format: str) -> None:
    """``create``, ``ls``, ``inspect`` and ``rm`` for ``noun`` (``secret`` or ``config``) on ``group``."""

    @group.command("create")
    @click.option("-l", "--label", "labels", multiple=True, help=f"{noun.capitalize()} labels (KEY=VALUE).")
    @click.option("-d", "--driver", default=None, hidden=noun == "config", help="Secret driver (refused: the store keeps secrets).")
    @click.option("--template-driver", default=None, help="Template driver (refused: data is delivered as it is).")
    @click.argument("name")
    @click.argument("source", metavar="FILE|-")
    @click.pass_obj
    def create(state_dir, labels, driver, template_driver, name, source) -> None:
        if driver:
            raise click.ClickException("--driver is not supported: Shoal keeps every secret in its store, sealed")
        if template_driver:
            raise click.ClickException(TEMPLATE_DRIVER_REFUSAL)
        spec = {"Name": name, "Labels": labels_of(labels)}
        data = read_data(noun, source)
        click.echo(ControlClient(state_dir).call(f"{noun}_create", {"spec": spec, "data": data})["id"])
    create.help = f"Create a {noun} from a file or STDIN as content."

    @group.command("ls")
    @listing.list_options("Only display IDs.")
    @click.pass_obj
    def ls(state_dir, quiet, output, filter_texts) -> None:
        wanted = listing.parsed_filters(filter_texts, LS_FILTERS)
        found = ControlClient(state_dir).call(f"{noun}_ls", {"filters": wanted})
        now = time.time()
        rows = [ls_row(obj, now) for obj in found]
        listing.show(rows, [row["ID"] for row in rows], quiet, output, ls_format)
    ls.help = f"List {noun}s."

    @group.command("inspect")
    @listing.inspect_options("{{.Spec.Name}}")
    @click.pass_obj
    def inspect(state_dir, pretty, output, refs) -> None:
        listing.check_pretty(pretty, output)
        client = ControlClient(state_dir)
        found, refusal = each(refs, lambda ref: client.call(f"{noun}_inspect", {"ref": ref}))
        listing.show_inspected(jsonable(found), refusal, output,
                               pretty and (lambda _: "\n".join(data_object_pretty(obj, noun) for obj in found)))
    inspect.help = f"Display detailed information on one or more {noun}s."

    @group.command("rm")
    @click.argument("refs", nargs=-1, required=True)
    @click.pass_obj
    def rm(state_dir, refs) -> None:
        remove_each(state_dir, f"{noun}_rm", refs)
    rm.help = f"Remove one or more {noun}s (refused while a service uses one)."
