"""Every private Pulumi SDK internal drkit relies on, in one place.

The offline deploy runs the Pulumi program in-process under mocks, with no engine; that
needs a few things the SDK does not publish: running its event loop synchronously
(``_sync_await``), a fresh root stack per run (``settings.ROOT``), clearing the per-run
state (``SETTINGS.rpc_manager``/``outputs``), running the program function
(``stack.run_pulumi_func``), recording what the engine would see (``mocks.MockMonitor``),
recognising secret envelopes (``rpc._special_sig_key``/``_special_secret_sig``), and
capturing ``pulumi.export`` calls. Nothing else in drkit touches a private name.

pyproject pins pulumi to the minor version these were checked against; ``check()`` is the
canary (tests/drills/deploy/test_pulumi_internals.py) that names what moved.
"""

from __future__ import annotations

import contextlib
from typing import Any, Awaitable, Callable, Iterator, Mapping, TypeVar

import pulumi
from pulumi.runtime import mocks as _mocks
from pulumi.runtime import rpc as _rpc
from pulumi.runtime import settings as _settings
from pulumi.runtime import stack as _stack
from pulumi.runtime import sync_await as _sync

T = TypeVar("T")

TESTED_PULUMI = "3.272"          # the minor version pyproject pins

MockMonitor = _mocks.MockMonitor


def sync_await(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to completion on the SDK's event loop (``sync_await._sync_await``)."""
    return _sync._sync_await(awaitable)


def fresh_root_stack() -> None:
    """Forget the previous run's root Stack, so URNs name this run's stack (``settings.ROOT``)."""
    _settings.ROOT.set(None)


def clear_run_state() -> None:
    """Drop the previous run's pending RPCs and outputs (``SETTINGS.rpc_manager``/``outputs``)."""
    _settings.SETTINGS.rpc_manager.clear()
    _settings.SETTINGS.outputs.clear()


def run_program(program: Callable[[], None]) -> None:
    """Run a Pulumi program function to completion (``stack.run_pulumi_func``)."""
    sync_await(_stack.run_pulumi_func(program))


def secret_envelope_value(value: Mapping[str, Any]) -> tuple[bool, Any]:
    """(True, the value) when ``value`` is a serialized secret (``rpc._special_sig_key`` set to
    ``rpc._special_secret_sig``), else (False, None)."""
    if value.get(_rpc._special_sig_key) == _rpc._special_secret_sig:
        return True, value.get("value")
    return False, None


def secret_envelope(value: Any) -> dict[str, Any]:
    """The serialized form of a secret ``value`` (for tests of ``secret_envelope_value``)."""
    return {_rpc._special_sig_key: _rpc._special_secret_sig, "value": value}


@contextlib.contextmanager
def captured_exports() -> Iterator[dict[str, Any]]:
    """Record every ``pulumi.export(name, value)`` the program makes (the export still happens).
    ``pulumi.export`` is replaced for the duration: programs must look it up at call time."""
    exported: dict[str, Any] = {}
    original = pulumi.export

    def capture(name: str, value: Any) -> None:
        exported[name] = value
        original(name, value)

    pulumi.export = capture
    try:
        yield exported
    finally:
        pulumi.export = original


def check() -> list[str]:
    """What moved: one line per internal that is missing or changed shape; [] when all hold."""
    problems: list[str] = []

    def need(ok: bool, what: str) -> None:
        if not ok:
            problems.append(f"pulumi {pulumi_version()}: {what} (drkit was tested with pulumi {TESTED_PULUMI}.x; "
                            f"update drills/deploy/pulumi_internals.py)")

    need(callable(getattr(_sync, "_sync_await", None)), "pulumi.runtime.sync_await._sync_await is gone")
    need(callable(getattr(getattr(_settings, "ROOT", None), "set", None)),
         "pulumi.runtime.settings.ROOT is no longer a ContextVar")
    settings = getattr(_settings, "SETTINGS", None)
    for name in ("rpc_manager", "outputs"):
        need(callable(getattr(getattr(settings, name, None), "clear", None)),
             f"pulumi.runtime.settings.SETTINGS.{name}.clear() is gone")
    need(callable(getattr(_stack, "run_pulumi_func", None)), "pulumi.runtime.stack.run_pulumi_func is gone")
    need(isinstance(getattr(_mocks, "MockMonitor", None), type), "pulumi.runtime.mocks.MockMonitor is gone")
    need(callable(getattr(getattr(_mocks, "MockMonitor", object), "RegisterResource", None)),
         "MockMonitor.RegisterResource is gone")
    need(isinstance(getattr(_rpc, "_special_sig_key", None), str)
         and isinstance(getattr(_rpc, "_special_secret_sig", None), str),
         "pulumi.runtime.rpc._special_sig_key/_special_secret_sig are gone")
    need(callable(getattr(pulumi, "export", None)), "pulumi.export is gone")
    return problems


def pulumi_version() -> str:
    from importlib.metadata import version
    return version("pulumi")
