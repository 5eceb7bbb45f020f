"""Every service entry point x every role: allowed, or refused with nothing changed.

The table (access_table.py) is written from the issue's role list, so the policy can be
wrong and this fails. A public method added to a service without a row there (or a
reason it is not an entry point) fails the first test.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest

from access_table import ANONYMOUS, ENTRY, NOT_ENTRY_POINTS, SERVICES
from access_world import ACTORS, A, D, N, Q, World, snapshot
from chatbot.auth import AccessDenied, Actor
from chatbot.errors import NotFoundError


def public_methods(service: object) -> set[str]:
    cls = type(service)
    return {
        f"{cls.__name__}.{name}" for name, member in inspect.getmembers(cls)
        if not name.startswith("_") and callable(member)
        and not isinstance(inspect.getattr_static(cls, name), property)
    }


def test_every_public_service_method_is_in_the_table_or_says_why_not(world):
    found = set()
    for name, get in SERVICES.items():
        methods = public_methods(get(world.rt))
        found |= {m for m in methods if name not in ANONYMOUS}
    runtime_services = {type(getattr(world.rt, f.name)).__name__ for f in world.rt.__dataclass_fields__.values()
                        if type(getattr(world.rt, f.name)).__module__.startswith("chatbot.services")}
    assert runtime_services - set(SERVICES) <= {"Generations", "JudgeService"}, "a service the table misses"
    assert found - set(ENTRY) - set(NOT_ENTRY_POINTS) == set(), "an unclassified public method"
    assert set(ENTRY) - found == set() and set(NOT_ENTRY_POINTS) - found == set(), "a row for a method that is gone"
    for name in ENTRY:
        cls, method = name.split(".")
        parameters = list(inspect.signature(getattr(SERVICES[cls](world.rt), method)).parameters)
        assert parameters[0] == "actor", f"{name} does not take the acting user first"


class Watched:
    """A part of the runtime, with every service call made by `actor` noted just before it
    runs: the state of the database and of the API then is what a refused call must leave.
    (The objects a call works on are made by the World's builders while its arguments are
    evaluated, so before this point.)"""

    def __init__(self, target: object, note: Callable[[], None], actor: Actor) -> None:
        self._target, self._note, self._actor = target, note, actor

    def __getattr__(self, name: str) -> object:
        value = getattr(self._target, name)
        if name == "engine" or value is None or isinstance(value, int | str | float | bool):
            return value
        if callable(value):
            def call(*args, **kwargs):  # noqa: ANN002, ANN003
                if args and args[0] is self._actor:
                    self._note()
                return value(*args, **kwargs)

            return call
        return Watched(value, self._note, self._actor)


CASES = [(name, role) for name in ENTRY for role in (A, Q, D, N)]


@pytest.mark.parametrize("name, role", CASES, ids=[f"{n}-{r.value}" for n, r in CASES])
def test_each_role_is_allowed_or_refused_with_nothing_changed(world, sandbox_server, name, role):
    allowed, call = ENTRY[name]
    actor = ACTORS[role]
    if role in allowed:
        call(world, actor)  # allowed: it simply works
        return
    notes: list[tuple[dict[str, int], int]] = []

    def note() -> None:
        notes.append((snapshot(world.rt), len(sandbox_server.state.requests())))

    watched = World(Watched(world.rt, note, actor), world.n)  # type: ignore[arg-type]
    with pytest.raises((AccessDenied, NotFoundError)):
        call(watched, actor)
    world.n = watched.n
    assert notes, "the call never reached the service"
    before, requests = notes[-1]
    assert snapshot(world.rt) == before, "a refused call changed something"
    assert len(sandbox_server.state.requests()) == requests, "a refused call reached the API"


