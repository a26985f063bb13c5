"""``inspect --pretty``: services, nodes, secrets and configs as docker prints them for a human."""

from __future__ import annotations

from actors.cli.format import human_age, title
from transport import schema
from transport.text import escaped

_NS_UNITS = (("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000), ("ms", 1_000_000), ("µs", 1_000))


def go_duration(nanos: int) -> str:
    """Nanoseconds as Go prints a duration: ``5s``, ``1m30s``, ``300ms``, ``0s``."""
    if not nanos:
        return "0s"
    if nanos < 1_000_000_000:
        for unit, size in _NS_UNITS[3:]:
            if nanos >= size:
                return f"{nanos / size:g}{unit}"
        return f"{nanos}ns"
    text, rest = "", nanos
    for unit, size in _NS_UNITS[:2]:
        if rest >= size or text:
            text += f"{rest // size}{unit}"
            rest %= size
    return text + f"{rest / 1_000_000_000:g}s"


def binary_size(count: int) -> str:
    """Bytes as docker's BytesSize: ``64MiB``, ``1.5GiB``."""
    value, unit = float(count), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            break
        value /= 1024
    return f"{value:.4g}{unit}"


class _Lines:
    """Key/value lines with the values aligned, as docker's tabwriter lays them out."""

    def __init__(self):
        self.rows: list[tuple[str, str | None]] = []

    def add(self, key: str, value=None) -> None:
        """``key: value`` (a heading ``key:`` when ``value`` is None)."""
        self.rows.append((f"{key}:", None if value is None else escaped(str(value))))

    def raw(self, line: str) -> None:
        """A line shown as it is (list items)."""
        self.rows.append((line, None))

    def text(self) -> str:
        width = max((len(k) for k, v in self.rows if v is not None), default=0) + 2
        return "\n".join(key if value is None else key.ljust(width) + value for key, value in self.rows)


def _labels(lines: _Lines, labels: dict) -> None:
    lines.add("Labels")
    for key, value in sorted((labels or {}).items()):
        lines.raw(f" - {key}={escaped(value)}")


def _named(obj: dict) -> _Lines:
    """The first lines of a named object's pretty inspect: ID, Name, and its Labels when it has some."""
    lines = _Lines()
    lines.add("ID", obj["ID"])
    lines.add("Name", obj["Spec"]["Name"])
    if obj["Spec"].get("Labels"):
        _labels(lines, obj["Spec"]["Labels"])
    return lines


def _policy(lines: _Lines, config: dict | None, name: str, order_label: str) -> None:
    if not config:
        return
    lines.add(name)
    lines.add(" Parallelism", config.get("Parallelism", 1))
    if config.get("Delay"):
        lines.add(" Delay", go_duration(config["Delay"]))
    lines.add(" On failure", config.get("FailureAction", "pause"))
    lines.add(" Monitoring Period", go_duration(config.get("Monitor", 0)))
    lines.add(" Max failure ratio", f"{config.get('MaxFailureRatio', 0):g}")
    lines.add(f" {order_label}", config.get("Order", "stop-first"))


def service_pretty(service: dict, now: float, network_names: dict[str, str] | None = None) -> str:
    """``service inspect --pretty`` (times as ages at ``now``, epoch seconds; networks by their names in
    ``network_names``, id -> name, else by id)."""
    spec = service["Spec"]
    lines = _named(service)
    mode = schema.service_mode(service)
    lines.add("Service Mode", {"replicated": "Replicated", "global": "Global", "replicated-job": "ReplicatedJob",
                               "global-job": "GlobalJob"}[mode])
    if mode == "replicated":
        lines.add(" Replicas", schema.desired_replicas(service))
    if mode == "replicated-job":
        lines.add(" Max Concurrent", schema.get_path(spec, "Mode.ReplicatedJob.MaxConcurrent", 1))
        lines.add(" Total Completions", schema.get_path(spec, "Mode.ReplicatedJob.TotalCompletions", 1))
    status = service.get("UpdateStatus")
    if status:
        lines.add("UpdateStatus")
        lines.add(" State", status.get("State", ""))
        for key, label in (("StartedAt", " Started"), ("CompletedAt", " Completed")):
            if status.get(key):
                lines.add(label, f"{human_age(now - schema.stored_time(status[key]))} ago")
        lines.add(" Message", status.get("Message", ""))
    template = spec.get("TaskTemplate") or {}
    placement = template.get("Placement") or {}
    if placement:
        lines.add("Placement")
        if placement.get("Constraints"):
            lines.add(" Constraints", "[" + " ".join(placement["Constraints"]) + "]")
        for preference in placement.get("Preferences") or []:
            lines.add(" Preferences", f"spread={preference['Spread']['SpreadDescriptor']}")
        if placement.get("MaxReplicas"):
            lines.add(" Max Replicas Per Node", placement["MaxReplicas"])
    _policy(lines, spec.get("UpdateConfig"), "UpdateConfig", "Update order")
    _policy(lines, spec.get("RollbackConfig"), "RollbackConfig", "Rollback order")
    _container(lines, template.get("ContainerSpec") or {})
    _resources(lines, template.get("Resources") or {})
    networks = [entry["Target"] for entry in template.get("Networks") or []]
    if networks:
        lines.add("Networks", " ".join((network_names or {}).get(target, target) for target in networks))
    lines.add("Endpoint Mode", schema.get_path(spec, "EndpointSpec.Mode") or "vip")
    ports = schema.get_path(spec, "EndpointSpec.Ports", []) or []
    if ports:
        lines.add("Ports")
        for port in ports:
            lines.raw(f" PublishedPort = {port.get('PublishedPort', 0)}")
            for key in ("Protocol", "TargetPort", "PublishMode"):
                lines.raw(f"  {key} = {port.get(key, '')}")
    return "\n" + lines.text() + "\n"


def _container(lines: _Lines, container: dict) -> None:
    lines.add("ContainerSpec")
    lines.add(" Image", container.get("Image", ""))
    for key in ("Command", "Args", "Env"):
        if container.get(key):
            lines.add(f" {key}", " ".join(container[key]))
    for key, label in (("Dir", "Dir"), ("User", "User"), ("Hostname", "Hostname"), ("StopSignal", "StopSignal")):
        if container.get(key):
            lines.add(f" {label}", container[key])
    if "StopGracePeriod" in container:
        lines.add(" StopGracePeriod", go_duration(container["StopGracePeriod"]))
    lines.add(" Init", "true" if container.get("Init") else "false")
    if container.get("ReadOnly"):
        lines.add(" ReadOnly", "true")
    if container.get("Groups"):
        lines.add(" Groups", " ".join(container["Groups"]))
    health = container.get("Healthcheck")
    if health:
        lines.add(" Healthcheck")
        lines.add("  Test", " ".join(health.get("Test", [])))
        for key in ("Interval", "Timeout", "StartPeriod", "StartInterval"):
            if key in health:
                lines.add(f"  {key}", go_duration(health[key]))
        if "Retries" in health:
            lines.add("  Retries", health["Retries"])
    if container.get("Mounts"):
        lines.add("Mounts")
        for mount in container["Mounts"]:
            lines.add(" Target", mount.get("Target", ""))
            lines.add("  Source", mount.get("Source", ""))
            lines.add("  ReadOnly", "true" if mount.get("ReadOnly") else "false")
            lines.add("  Type", mount.get("Type", ""))
    for field, source in (("Configs", "ConfigName"), ("Secrets", "SecretName")):
        if container.get(field):
            lines.add(field)
            for reference in container[field]:
                lines.add(" Target", schema.get_path(reference, "File.Name", ""))
                lines.add("  Source", reference.get(source, ""))


def go_time(stored: str) -> str:
    """A stored RFC 3339 UTC time as Go prints a time: ``2024-01-31 12:00:00.123456789 +0000 UTC``."""
    date, _, clock = (stored or "").rstrip("Z").partition("T")
    return f"{date} {clock} +0000 UTC"


def data_object_pretty(obj: dict, noun: str) -> str:
    """``secret inspect --pretty`` or ``config inspect --pretty`` (``noun``): a config's data follows,
    as text (control characters escaped); a secret's is never at hand."""
    spec = obj["Spec"]
    lines = _named(obj)
    if noun == "secret":
        lines.add("Driver", "")
    lines.add("Created at", go_time(obj.get("CreatedAt", "")))
    lines.add("Updated at", go_time(obj.get("UpdatedAt", "")))
    text = lines.text()
    if noun == "config":
        data = (spec.get("Data") or b"").decode("utf-8", "replace")
        text += "\nData:\n" + "\n".join(escaped(line) for line in data.split("\n"))
    return text


def _resources(lines: _Lines, resources: dict) -> None:
    if not (resources.get("Limits") or resources.get("Reservations")):
        return
    lines.add("Resources")
    for key in ("Reservations", "Limits"):
        amounts = resources.get(key) or {}
        if not amounts:
            continue
        lines.add(f" {key}")
        if amounts.get("NanoCPUs"):
            lines.add("  CPU", f"{amounts['NanoCPUs'] / 1e9:g}")
        if amounts.get("MemoryBytes"):
            lines.add("  Memory", binary_size(amounts["MemoryBytes"]))
        if amounts.get("Pids"):
            lines.add("  PIDs", amounts["Pids"])


def node_pretty(node: dict) -> str:
    """``node inspect --pretty``."""
    lines = _Lines()
    lines.add("ID", node["ID"])
    labels = schema.get_path(node, "Spec.Labels", {}) or {}
    if labels:
        _labels(lines, labels)
    lines.add("Hostname", schema.get_path(node, "Description.Hostname", ""))
    if node.get("CreatedAt"):
        lines.add("Joined at", node["CreatedAt"])
    lines.add("Status")
    lines.add(" State", title(node["Status"]["State"]))
    if node["Status"].get("Message"):
        lines.add(" Message", node["Status"]["Message"])
    lines.add(" Availability", title(schema.get_path(node, "Spec.Availability", "")))
    lines.add(" Address", node["Status"].get("Addr", ""))
    manager = node.get("ManagerStatus")
    if manager:
        lines.add("Manager Status")
        lines.add(" Address", manager.get("Addr", ""))
        lines.add(" Raft Status", title(manager.get("Reachability", "")))
        lines.add(" Leader", "Yes" if manager.get("Leader") else "No")
    platform = schema.get_path(node, "Description.Platform", {}) or {}
    if platform:
        lines.add("Platform")
        lines.add(" Operating System", platform.get("OS", ""))
        lines.add(" Architecture", platform.get("Architecture", ""))
    resources = schema.get_path(node, "Description.Resources", {}) or {}
    if resources:
        lines.add("Resources")
        lines.add(" CPUs", f"{resources.get('NanoCPUs', 0) / 1e9:g}")
        lines.add(" Memory", binary_size(resources.get("MemoryBytes", 0)))
    engine = schema.get_path(node, "Description.Engine", {}) or {}
    if engine.get("Labels"):
        lines.add("Engine Labels")
        for key, value in sorted(engine["Labels"].items()):
            lines.raw(f" - {key}={escaped(value)}")
    if engine.get("EngineVersion"):
        lines.add("Engine Version", engine["EngineVersion"])
    return lines.text()
