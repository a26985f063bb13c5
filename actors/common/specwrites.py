"""What a write of a service's spec changes, for the control API and the orchestrator's rollback alike.

``SpecVersion.Index`` counts spec writes (a service is created at 1); new
tasks copy it, and nothing but a spec write moves it (Version.Index moves on
every write, allocator and status writes included).
"""

from __future__ import annotations

import copy

from transport import schema

FIRST_SPEC_VERSION = {"Index": 1}


def spec_changes(service: dict, spec: dict) -> dict:
    """The service fields to set when ``spec`` replaces ``service``'s spec: Spec, PreviousSpec (the
    old spec), SpecVersion (one more) and PreviousSpecVersion."""
    version = schema.get_path(service, "SpecVersion.Index", 0) or 0
    return {"Spec": copy.deepcopy(spec), "PreviousSpec": copy.deepcopy(service["Spec"]),
            "SpecVersion": {"Index": version + 1}, "PreviousSpecVersion": {"Index": version}}


def rollback_changes(service: dict) -> dict:
    """The fields a rollback sets: Spec <- PreviousSpec and PreviousSpec <- Spec (as Docker swaps them,
    so a second rollback returns), with a new SpecVersion. ``service`` must have a PreviousSpec."""
    return spec_changes(service, service["PreviousSpec"])
