"""PluginHost: hook implementations kept between calls, and looked up again when plugins change."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from mailhost.config import parse_config
from mailhost.decisions import Deliver, Discard
from mailhost.hookspecs import hookimpl
from mailhost.plugins import PluginHost

ARGS: dict[str, Any] = {"app": None, "recipient": "a@example.test", "address": "a@example.test",
                        "sender": "", "message": b"", "protocol": "lmtp"}


def host() -> PluginHost:
    return PluginHost(parse_config({"listener": []}, "<test>"))


class Sync:
    @hookimpl
    def mailhost_delivery_decide(self, **_: Any) -> Deliver:
        return Deliver("Sync")


class Async:
    @hookimpl
    async def mailhost_delivery_decide(self, **_: Any) -> Discard:
        await asyncio.sleep(0)
        return Discard("async")


class ReturnsAwaitable:
    """A plain function handing back a coroutine: still awaited."""

    @hookimpl
    def mailhost_delivery_decide(self, **_: Any) -> Awaitable[Deliver]:
        async def later() -> Deliver:
            return Deliver("Later")
        return later()


class Counts:
    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    async def mailhost_store_event(self, app: Any, event: Any) -> None:
        self.calls += 1


async def test_plugins_registered_or_removed_between_calls_are_seen() -> None:
    plugins = host()
    default = await plugins.decide("mailhost_delivery_decide", **ARGS)  # the built-in answer
    assert default == Deliver("INBOX")
    plugins.register(Sync(), "sync")
    assert await plugins.decide("mailhost_delivery_decide", **ARGS) == Deliver("Sync")
    plugins.register(Async(), "async")  # registered later: asked first
    assert await plugins.decide("mailhost_delivery_decide", **ARGS) == Discard("async")
    plugins.pm.unregister(name="async")  # straight through pluggy, too
    assert await plugins.decide("mailhost_delivery_decide", **ARGS) == Deliver("Sync")
    plugins.pm.set_blocked("sync")
    assert await plugins.decide("mailhost_delivery_decide", **ARGS) == default
    plugins.register(ReturnsAwaitable(), "later")
    assert await plugins.decide("mailhost_delivery_decide", **ARGS) == Deliver("Later")


async def test_has_implementations_and_notify_follow_registration() -> None:
    plugins = host()
    assert not plugins.has_implementations("mailhost_store_event")
    counts = Counts()
    plugins.register(counts, "counts")
    assert plugins.has_implementations("mailhost_store_event")
    await plugins.notify("mailhost_store_event", app=None, event=None)
    assert counts.calls == 1
    plugins.pm.unregister(counts)
    assert not plugins.has_implementations("mailhost_store_event")
    await plugins.notify("mailhost_store_event", app=None, event=None)
    assert counts.calls == 1
