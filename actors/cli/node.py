"""``shoal node``: ls, inspect, update, promote, demote, rm."""

from __future__ import annotations


import click

from actors.cli import listing
from actors.cli.client import ControlClient, each
from actors.cli.format import table, title
from actors.cli.pretty import node_pretty
from actors.common import filters
from transport import schema



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


def node_row(node: dict, me: str) -> dict:
    """A ``node ls`` row with docker's fields (ID, Self, Hostname, Status, Availability, ManagerStatus, EngineVersion)."""
    return {"ID": node["ID"], "Self": node["ID"] == me, "Hostname": schema.get_path(node, "Description.Hostname", ""),
            "Status": title(node["Status"]["State"]), "Availability": title(node["Spec"]["Availability"]),
            "ManagerStatus": _manager_status(node),
            "EngineVersion": schema.get_path(node, "Description.Engine.EngineVersion", "")}


@node.command("ls")
@listing.list_options("Only display IDs.")
@click.pass_obj
def node_ls(state_dir, quiet: bool, output, filter_texts) -> None:
    """List nodes in the swarm."""
    wanted = listing.parsed_filters(filter_texts, filters.NODE_LS)
    client = ControlClient(state_dir)
    nodes = filters.keep(client.call("node_ls"), wanted, filters.NODE_LS)
    rows = [node_row(n, client.host.node_id) for n in nodes]
    if quiet or output:
        listing.show(rows, [n["ID"] for n in nodes], quiet, output, "")
        return
    click.echo(table(["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS"],
                     [[r["ID"] + (" *" if r["Self"] else ""), r["Hostname"], r["Status"], r["Availability"],
                       r["ManagerStatus"]] for r in rows]))


@node.command("inspect")
@listing.inspect_options("{{.Spec.Role}}")
@click.pass_obj
def node_inspect(state_dir, pretty, output, refs) -> None:
    """Display detailed information on nodes (``self`` is this host)."""
    listing.check_pretty(pretty, output)
    client = ControlClient(state_dir)
    found, refusal = each(refs, lambda ref: client.call("node_inspect", {"ref": _node_ref(client, ref)}))
    listing.show_inspected(found, refusal, output, pretty and (lambda nodes: "\n\n".join(node_pretty(n) for n in nodes)))


@node.command("ps")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output.")
@listing.list_options("Only display task IDs.", json_help="'json': the tasks as stored, a JSON array (Shoal).")
@click.argument("refs", nargs=-1)
@click.pass_obj
def node_ps(state_dir, no_trunc, quiet, output, filter_texts, refs) -> None:
    """List tasks running on one or more nodes, defaults to current node."""
    client = ControlClient(state_dir)
    reply = client.node_ps([_node_ref(client, ref) for ref in refs or ("self",)])
    listing.show_tasks(reply["tasks"], reply["hostnames"], reply["services"], no_trunc, quiet, output, filter_texts)


@node.command("update")
@click.option("--availability", type=click.Choice(["active", "pause", "drain"]))
@click.option("--role", type=click.Choice(["worker", "manager"]), help="Role of the node.")
@click.option("--label-add", multiple=True, help="Add or update a node label (key=value).")
@click.option("--label-rm", multiple=True, help="Remove a node label if exists.")
@click.argument("ref")
@click.pass_obj
def node_update(state_dir, availability, role, label_add, label_rm, ref) -> None:
    """Update a node."""
    client = ControlClient(state_dir)
    body = {"ref": _node_ref(client, ref), "availability": availability, "role": role}
    if label_add or label_rm:
        labels = client.call("node_inspect", {"ref": body["ref"]})["Spec"].get("Labels") or {}
        for key in label_rm:
            if key not in labels:
                raise click.UsageError(f"key {key} doesn't exist in node's labels")
            del labels[key]
        for item in label_add:
            key, _, value = item.partition("=")
            if not key:
                raise click.UsageError(f"invalid label {item!r}: use key=value")
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
