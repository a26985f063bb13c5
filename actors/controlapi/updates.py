"""What the control API writes for ``service update``, ``rollback``, ``restart`` and resume, as pure functions.

Each returns the changes (dotted path -> value) for one version-checked patch
of the service. A spec write bumps ``SpecVersion`` and keeps the old spec as
``PreviousSpec`` (actors/common/specwrites.py); a new spec clears
``UpdateStatus`` so the orchestrator starts a fresh update (as Docker does),
a rollback starts one itself (``rollback_started``, "manually requested
rollback"). The orchestrator writes UpdateStatus from then on; users only
ever pause it by failure, and resume it here.
"""

from __future__ import annotations

import copy

from actors.common.specwrites import rollback_changes, spec_changes
from transport import schema
from transport.rpc import RpcError

RESUMED = {"paused": ("updating", "update in progress"),
           "rollback_paused": ("rollback_started", "rollback in progress")}
RESUME_HOW = ("all", "step")


def out_of_sequence() -> RpcError:
    """Docker's refusal of an update made from a service version that is no longer current."""
    return RpcError("out_of_sequence", "update out of sequence")


def check_version(service: dict, version) -> None:
    """RpcError ``out_of_sequence`` unless ``version`` is the service's Version.Index (the one the client
    read); RpcError ``invalid`` when it is not a whole number."""
    if not isinstance(version, int) or isinstance(version, bool):
        raise RpcError("invalid", "a service update must carry the version of the service it was made from")
    if version != schema.version_of(service):
        raise out_of_sequence()


def update_changes(service: dict, spec: dict, step: bool = False) -> dict:
    """A new ``spec`` (already checked); ``step`` makes its update pause after each batch."""
    return {**spec_changes(service, spec), "UpdateStatus": {"Shoal": {"Step": True}} if step else None}


def restart_spec(service: dict) -> dict:
    """``service``'s spec with ``TaskTemplate.ForceUpdate`` one more, so every task is replaced."""
    spec = copy.deepcopy(service["Spec"])
    template = spec.setdefault("TaskTemplate", {})
    template["ForceUpdate"] = (template.get("ForceUpdate") or 0) + 1
    return spec


def rollback_request_changes(service: dict, now: float) -> dict:
    """Spec <- PreviousSpec and a rollback started; RpcError ``refused`` when there is no previous spec."""
    if not service.get("PreviousSpec"):
        raise RpcError("refused", f"service {service['Spec']['Name']} does not have a previous spec")
    return {**rollback_changes(service),
            "UpdateStatus": {"State": "rollback_started", "StartedAt": schema.format_time(now),
                             "Message": "manually requested rollback"}}


def resume_changes(service: dict, how: str) -> dict:
    """A paused update (or rollback) resumed: to completion (``all``) or for its next batch (``step``),
    with its failures forgotten. RpcError ``invalid`` for another ``how``, ``refused`` when not paused."""
    if how not in RESUME_HOW:
        raise RpcError("invalid", f"invalid resume {how!r}: use all or step")
    status = copy.deepcopy(service.get("UpdateStatus") or {})
    resumed = RESUMED.get(status.get("State"))
    if resumed is None:
        raise RpcError("refused", f"service {service['Spec']['Name']} has no paused update to resume")
    status["State"], status["Message"] = resumed
    status.pop("Shoal", None)
    if how == "step":
        status["Shoal"] = {"Step": True}
    return {"UpdateStatus": status}
