"""Actor names to their main coroutines, imported lazily so each process loads only its own."""

from __future__ import annotations

import importlib

ACTOR_MODULES = {
    "raft": "actors.raft.member",
    "controlapi": "actors.controlapi.actor",
    "orchestrator": "actors.orchestrator.actor",
    "allocator": "actors.allocator.actor",
    "scheduler": "actors.scheduler.actor",
    "dispatcher": "actors.dispatcher.actor",
    "executor": "actors.executor.actor",
    "engineapi": "actors.engineapi.actor",
}


def actor_main(name: str):
    """The ``async def main(actor)`` of actor ``name``; KeyError for an unknown name."""
    return importlib.import_module(ACTOR_MODULES[name]).main
