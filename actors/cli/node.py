"""``shoal node``: ls, inspect, update, promote, demote, rm."""

from __future__ import annotations

import json

import click

from actors.cli.client import ControlClient
from actors.cli.format import table, title
from transport import schema
from transport.text import escaped


def _manager_status(node: dict) -> str:
    status = node.get("ManagerStatus")
    if node["Spec"]["Role"] != "manager" or not status:
        return ""
    return "Leader" if status.get("Leader") else title(status.get("Reachability", "unknown"))


def _node_ref(client: ControlClient, ref: str) -> str:
    """``ref`` as the control API takes it: ``self`` is this host's node."""
    return client.host.node_id if ref == "self" else ref


@click.group()
def node() -> None:
    """Manage swarm nodes."""


@node.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display IDs.")
@click.pass_obj
def node_ls(state_dir, quiet: bool) -> None:
    """List nodes in the swarm."""
    client = ControlClient(state_dir)
    nodes = client.call("node_ls")
    if quiet:
        click.echo("\n".join(escaped(n["ID"]) for n in nodes))
        return
    me = client.host.node_id
    rows = [[n["ID"] + (" *" if n["ID"] == me else ""), schema.get_path(n, "Description.Hostname", ""),
             title(n["Status"]["State"]), title(n["Spec"]["Availability"]), _manager_status(n)] for n in nodes]
    click.echo(table(["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS"], rows))


@node.command("inspect")
@click.argument("refs", nargs=-1, required=True)
@click.pass_obj
def node_inspect(state_dir, refs) -> None:
    """Display detailed information on nodes (``self`` is this host)."""
    client = ControlClient(state_dir)
    found = [client.call("node_inspect", {"ref": _node_ref(client, ref)}) for ref in refs]
    click.echo(json.dumps(found, indent=4))


@node.command("update")
@click.option("--availability", type=click.Choice(["active", "pause", "drain"]))
@click.option("--role", type=click.Choice(["worker", "manager"]), help="Role of the node.")
@click.option("--label-add", multiple=True, help="Add or update a node label (key=value).")
@click.argument("ref")
@click.pass_obj
def node_update(state_dir, availability, role, label_add, ref) -> None:
    """Update a node."""
    client = ControlClient(state_dir)
    body = {"ref": _node_ref(client, ref), "availability": availability, "role": role}
    if label_add:
        labels = client.call("node_inspect", {"ref": body["ref"]})["Spec"].get("Labels") or {}
        for item in label_add:
            key, _, value = item.partition("=")
            labels[key] = value
        body["labels"] = labels
    click.echo(client.call("node_update", body)["ID"])


def _change_role(state_dir, refs, role: str, done: str) -> None:
    client = ControlClient(state_dir)
    for ref in refs:
        node_id = _node_ref(client, ref)
        if client.call("node_inspect", {"ref": node_id})["Spec"]["Role"] == role:
            click.echo(f"Node {ref} is already a {role}.")
            continue
        client.call("node_update", {"ref": node_id, "role": role})
        click.echo(done.format(ref=ref))


@node.command("promote")
@click.argument("refs", nargs=-1, required=True)
@click.pass_obj
def node_promote(state_dir, refs) -> None:
    """Promote one or more nodes to manager in the swarm."""
    _change_role(state_dir, refs, "manager", "Node {ref} promoted to a manager in the swarm.")


@node.command("demote")
@click.argument("refs", nargs=-1, required=True)
@click.pass_obj
def node_demote(state_dir, refs) -> None:
    """Demote one or more nodes from manager in the swarm."""
    _change_role(state_dir, refs, "worker", "Manager {ref} demoted in the swarm.")


@node.command("rm")
@click.option("-f", "--force", is_flag=True, help="Force remove a node from the swarm.")
@click.argument("refs", nargs=-1, required=True)
@click.pass_obj
def node_rm(state_dir, force, refs) -> None:
    """Remove one or more nodes from the swarm."""
    client = ControlClient(state_dir)
    for ref in refs:
        client.call("node_rm", {"ref": ref, "force": force})
        click.echo(ref)
