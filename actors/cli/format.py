"""Turning objects into what docker prints: tables, ages, states."""

from __future__ import annotations

from transport import schema
from transport.text import escaped


def human_age(seconds: float) -> str:
    """Docker's human durations: ``Less than a second``, ``5 seconds``, ``About a minute``, ``3 hours`` ..."""
    seconds = max(0.0, seconds)
    if seconds < 1:
        return "Less than a second"
    if seconds < 60:
        return "1 second" if int(seconds) == 1 else f"{int(seconds)} seconds"
    minutes = seconds / 60
    if round(minutes) == 1:
        return "About a minute"
    if minutes < 60:
        return f"{int(minutes)} minutes"
    hours = round(minutes / 60)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    return f"{hours // 24} days"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns separated by three spaces, as docker prints them; a cell's control
    characters (terminal escapes, newlines) are shown escaped, never sent to the terminal."""
    rows = [[escaped(str(cell)) for cell in row] for row in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    lines = ["   ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in [headers] + rows]
    return "\n".join(lines)


def title(word: str) -> str:
    """``running`` -> ``Running``."""
    return word[:1].upper() + word[1:]


def ports_text(ports: list[dict]) -> str:
    """``*:8080->80/tcp`` for each published port."""
    return ", ".join(f"*:{p.get('PublishedPort', 0)}->{p['TargetPort']}/{p.get('Protocol', 'tcp')}" for p in ports or [])


def task_rows(tasks: list[dict], hostnames: dict[str, str], service_names: dict[str, str], now: float,
              no_trunc: bool) -> list[dict]:
    """``service ps``/``node ps`` rows (docker's fields: ID, Name, Image, Node, DesiredState, CurrentState,
    Error, Ports): per service and slot newest first, older tasks of the slot marked `` \\_ ``."""
    slots: dict[tuple, list[dict]] = {}
    for task in tasks:
        key = (service_names.get(task["ServiceID"], ""), str(task.get("Slot") or task.get("NodeID")))
        slots.setdefault(key, []).append(task)
    rows = []
    for key in sorted(slots):
        history = sorted(slots[key], key=lambda t: t.get("CreatedAt", ""), reverse=True)
        for position, task in enumerate(history):
            name = schema.task_name(key[0], task)
            status = task["Status"]
            age = human_age(now - schema.stored_time(status.get("Timestamp")))
            err = status.get("Err", "")
            if err and not no_trunc and len(err) > 30:
                err = err[:29] + "…"
            rows.append({"ID": task["ID"] if no_trunc else task["ID"][:12],
                         "Name": name if position == 0 else f" \\_ {name}",
                         "Image": schema.get_path(task, "Spec.ContainerSpec.Image", ""),
                         "Node": hostnames.get(task.get("NodeID", ""), ""),
                         "DesiredState": title(task.get("DesiredState", "")),
                         "CurrentState": f"{title(status['State'])} {age} ago",
                         "Error": f'"{err}"' if err else "",
                         "Ports": ports_text(schema.get_path(task, "Endpoint.Ports", []))})
    return rows
