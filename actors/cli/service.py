"""``shoal service``: create, ls, ps, inspect, scale, rm."""

from __future__ import annotations

import json
import math
import re
import time

import click

from actors.cli.client import ControlClient
from actors.cli.format import parse_duration, ports_text, table, task_rows
from actors.cli.progress import wait_converged
from transport import limits
from transport.text import escaped

_DIGITS = re.compile(r"[0-9]+")


class Seconds(click.FloatRange):
    """A finite number of seconds in 0..``limit`` (click's FloatRange alone lets ``nan`` through)."""

    def __init__(self, limit: float):
        super().__init__(0, limit)

    def convert(self, value, param, ctx):
        seconds = super().convert(value, param, ctx)
        if not math.isfinite(seconds):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return seconds


WAIT_SECONDS = Seconds(limits.CLI_WAIT_SECONDS)


def parse_key_values(values: tuple[str, ...], what: str) -> dict:
    """``K=V`` pairs into a dict; BadParameter naming ``what`` when one has no key."""
    result = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not key:
            raise click.BadParameter(f"invalid {what} {item!r}: use KEY=VALUE")
        result[key] = value
    return result


def parse_scale(pair: str) -> tuple[str, int]:
    """``SERVICE=REPLICAS`` into (service, replicas); BadParameter unless REPLICAS is 0..REPLICAS."""
    ref, sep, count = pair.partition("=")
    if not ref or not sep or not _DIGITS.fullmatch(count):
        raise click.BadParameter(f"invalid scale specifier {pair!r}: use SERVICE=REPLICAS")
    if int(count) > limits.REPLICAS:
        raise click.BadParameter(f"invalid replicas value {count}: a service may have at most {limits.REPLICAS} replicas")
    return ref, int(count)


def parse_publish(text: str) -> dict:
    """``published=8080,target=80[,protocol=tcp][,mode=ingress]`` or ``8080:80[/udp]`` into an EndpointSpec port."""
    try:
        if "=" in text:
            fields = dict(part.split("=", 1) for part in text.split(","))
            port = {"TargetPort": int(fields["target"]), "PublishedPort": int(fields.get("published", 0)),
                    "Protocol": fields.get("protocol", "tcp"), "PublishMode": fields.get("mode", "ingress")}
        else:
            ports, _, protocol = text.partition("/")
            published, _, target = ports.rpartition(":")
            port = {"TargetPort": int(target), "PublishedPort": int(published or 0),
                    "Protocol": protocol or "tcp", "PublishMode": "ingress"}
    except (ValueError, KeyError):
        raise click.BadParameter(f"invalid publish {text!r}: use published=8080,target=80 or 8080:80") from None
    if not (0 <= port["PublishedPort"] <= 65535 and 1 <= port["TargetPort"] <= 65535):
        raise click.BadParameter(f"invalid publish {text!r}: ports are 1-65535")
    return port


def duration_ns(ctx, param, value):
    """click callback: a Go-style duration to nanoseconds."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.group()
def service() -> None:
    """Manage swarm services."""


@service.command("create", context_settings={"allow_interspersed_args": False})
@click.option("--name", default=None, help="Service name.")
@click.option("--replicas", type=click.IntRange(0, limits.REPLICAS), default=None, help="Number of tasks.")
@click.option("--mode", type=click.Choice(["replicated", "global"]), default="replicated", show_default=True)
@click.option("-e", "--env", multiple=True, help="Set environment variables (K=V).")
@click.option("--label", multiple=True, help="Service labels (K=V).")
@click.option("--container-label", multiple=True, help="Container labels (K=V).")
@click.option("--restart-condition", type=click.Choice(["any", "on-failure", "none"]), default=None)
@click.option("--restart-delay", callback=duration_ns, default=None, help="Delay between restart attempts (ns|us|ms|s|m|h).")
@click.option("--restart-max-attempts", type=click.IntRange(0, limits.COUNT), default=None)
@click.option("-p", "--publish", multiple=True, help="Publish a port: published=8080,target=80[,mode=host] or 8080:80.")
@click.option("-d", "--detach", is_flag=True, help="Exit immediately instead of waiting for the service to converge.")
@click.option("-q", "--quiet", is_flag=True, help="Suppress progress output.")
@click.option("--timeout", type=WAIT_SECONDS, default=300.0, show_default=True, help="Seconds to wait for convergence.")
@click.argument("image")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def create(state_dir, name, replicas, mode, env, label, container_label, restart_condition, restart_delay,
           restart_max_attempts, publish, detach, quiet, timeout, image, args) -> None:
    """Create a new service running IMAGE [COMMAND [ARG...]]."""
    restart = {"Condition": restart_condition or "any", "Delay": 5_000_000_000 if restart_delay is None else restart_delay,
               "MaxAttempts": restart_max_attempts or 0}
    container = {"Image": image, "Args": list(args), "Env": list(env), "Labels": parse_key_values(container_label, "container label")}
    spec = {"Name": name or f"svc-{int(time.time() * 1000) % 100000}", "Labels": parse_key_values(label, "label"),
            "TaskTemplate": {"ContainerSpec": container, "RestartPolicy": restart},
            "Mode": {"Global": {}} if mode == "global" else {"Replicated": {"Replicas": 1 if replicas is None else replicas}},
            "EndpointSpec": {"Ports": [parse_publish(p) for p in publish]}}
    client = ControlClient(state_dir)
    created = client.call("service_create", {"spec": spec})
    click.echo(created["ID"])
    if not detach and not quiet:
        wait_converged(client, created["ID"], timeout)


@service.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display IDs.")
@click.pass_obj
def ls(state_dir, quiet) -> None:
    """List services."""
    rows = ControlClient(state_dir).call("service_ls")
    if quiet:
        click.echo("\n".join(escaped(r["service"]["ID"]) for r in rows))
        return
    click.echo(table(["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"], [
        [r["service"]["ID"][:12], r["service"]["Spec"]["Name"],
         "global" if "Global" in r["service"]["Spec"].get("Mode", {}) else "replicated",
         f"{r['running']}/{r['desired']}", r["service"]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"],
         ports_text((r["service"].get("Endpoint") or {}).get("Ports"))] for r in rows]))


@service.command("ps")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output.")
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.argument("ref")
@click.pass_obj
def ps(state_dir, no_trunc, output, ref) -> None:
    """List the tasks of a service."""
    reply = ControlClient(state_dir).service_ps(ref)
    if output == "json":
        click.echo(json.dumps(reply["tasks"], indent=2))
        return
    rows = task_rows(reply["tasks"], reply["hostnames"], reply["service"]["Spec"]["Name"], time.time(), no_trunc)
    click.echo(table(["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS"], rows))


@service.command("inspect")
@click.argument("refs", nargs=-1, required=True)
@click.pass_obj
def inspect(state_dir, refs) -> None:
    """Display detailed information on services."""
    client = ControlClient(state_dir)
    click.echo(json.dumps([client.call("service_inspect", {"ref": ref}) for ref in refs], indent=4))


@service.command("scale")
@click.option("-d", "--detach", is_flag=True, help="Exit immediately instead of waiting for convergence.")
@click.option("--timeout", type=WAIT_SECONDS, default=300.0, show_default=True)
@click.argument("pairs", nargs=-1, required=True)
@click.pass_obj
def scale(state_dir, detach, timeout, pairs) -> None:
    """Scale one or more replicated services: SERVICE=REPLICAS ..."""
    wanted = [parse_scale(pair) for pair in pairs]
    client = ControlClient(state_dir)
    for ref, count in wanted:
        client.call("service_scale", {"ref": ref, "replicas": count})
        click.echo(f"{ref} scaled to {count}")
        if not detach:
            wait_converged(client, ref, timeout)


@service.command("rm")
@click.argument("refs", nargs=-1, required=True)
@click.pass_obj
def rm(state_dir, refs) -> None:
    """Remove one or more services."""
    client = ControlClient(state_dir)
    for ref in refs:
        client.call("service_rm", {"ref": ref})
        click.echo(ref)
