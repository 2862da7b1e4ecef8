"""One plugin manager per server, and the three ways of calling a hook.

A module-global manager forces tests to monkeypatch; one per :class:`~mailhost.app.App` lets a
test run two differently configured servers in one process. pluggy is synchronous, so
:class:`PluginHost` calls the implementations itself: it awaits ``async def`` ones in order,
stops a decide-hook at the first real answer, and turns a plugin's exception into an error that
names the plugin instead of a dead session.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

import pluggy

from mailhost import hookspecs
from mailhost.config import Config, ConfigError, build_section

log = logging.getLogger("mailhost.plugins")

ENTRY_POINT_GROUP = "mailhost"

# Built-in behaviour is itself plugins, registered before the enabled third-party ones.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "mailhost.defaults",
    "mailhost.protocols.pop3.plugin",
    "mailhost.protocols.imap.plugin",
    "mailhost.delivery.plugin",
)


class PluginError(Exception):
    """A plugin's hook implementation raised; carries the plugin's name for the log line."""

    def __init__(self, plugin: str, hook: str, error: BaseException) -> None:
        self.plugin = plugin
        self.hook = hook
        self.error = error
        super().__init__(f"plugin {plugin!r} failed in {hook}: {error!r}")


def available_plugins() -> dict[str, Any]:
    """Entry points in the ``mailhost`` group, by name (not yet loaded)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


@dataclass(frozen=True)
class PluginInfo:
    name: str
    hooks: tuple[str, ...]


class _PluginManager(pluggy.PluginManager):
    """A PluginManager that counts the changes to its plugins (see :attr:`changes`).

    pluggy changes a hook's implementations only in ``register`` and ``unregister``
    (``set_blocked`` and entry-point loading go through them), so :class:`PluginHost` may
    keep each hook's list until the count moves, whoever called them.
    """

    changes = 0

    def register(self, plugin: object, name: str | None = None) -> str | None:
        try:
            return super().register(plugin, name)
        finally:
            self.changes += 1

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        try:
            return super().unregister(plugin, name)
        finally:
            self.changes += 1


@dataclass(frozen=True)
class _Impl:
    """What calling one implementation needs, read from pluggy's HookImpl once."""

    function: Any
    argnames: tuple[str, ...]
    plugin_name: str
    is_async: bool  # ``async def``: its result is awaited without looking at it first


class PluginHost:
    """Owns the PluginManager and calls hooks as notify, collect or decide."""

    def __init__(self, config: Config, extra_plugins: Iterable[tuple[str, object]] = ()) -> None:
        self.pm = _PluginManager(hookspecs.PROJECT)
        # hook name -> (pm.changes when read, its implementations in calling order)
        self._impl_cache: dict[str, tuple[int, tuple[_Impl, ...]]] = {}
        self.pm.add_hookspecs(hookspecs)
        for module_name in BUILTIN_PLUGINS:
            self.pm.register(importlib.import_module(module_name), name=module_name)
        self._load_enabled(config)
        for name, plugin in extra_plugins:
            self.pm.register(plugin, name=name)
        self.settings = self._validate_settings(config)

    def _load_enabled(self, config: Config) -> None:
        found = available_plugins()
        for i, name in enumerate(config.plugins.enabled):
            if name not in found:
                names = ", ".join(sorted(found)) or "none installed"
                raise ConfigError(
                    config.source, f"plugins.enabled[{i}]", f"no plugin named {name!r}",
                    f"install it or remove it from the list (available: {names})",
                )
            try:
                plugin = found[name].load()
            except Exception as exc:  # an import error in a plugin must not be a traceback
                raise ConfigError(
                    config.source, f"plugins.enabled[{i}]",
                    f"plugin {name!r} failed to load: {exc!r}", "fix or uninstall the plugin",
                ) from exc
            self.pm.register(plugin, name=name)

    def _validate_settings(self, config: Config) -> dict[str, Any]:
        schemas: dict[str, type] = {}
        for mapping in self.pm.hook.mailhost_settings_schema():
            schemas.update(mapping)
        settings: dict[str, Any] = {}
        for name, table in config.plugin_settings.items():
            if name not in schemas:
                raise ConfigError(
                    config.source, f"plugins.{name}", "no loaded plugin reads this section",
                    f"enable '{name}' in [plugins] enabled, or remove the section",
                )
            settings[name] = build_section(config.source, f"plugins.{name}", schemas[name], table)
        for name, schema in schemas.items():
            settings.setdefault(name, schema())
        return settings

    def register(self, plugin: object, name: str) -> None:
        """Register a plugin object at run time (tests and embedding)."""
        self.pm.register(plugin, name=name)

    def has_implementations(self, hook_name: str) -> bool:
        return bool(self._impls(hook_name))

    def _impls(self, hook_name: str) -> tuple[_Impl, ...]:
        """The hook's implementations in calling order, kept until a plugin comes or goes.

        Reading them from pluggy copied and reversed a list on every call (a few calls per
        delivery and login).
        """
        cached = self._impl_cache.get(hook_name)
        if cached is not None and cached[0] == self.pm.changes:
            return cached[1]
        caller = getattr(self.pm.hook, hook_name)
        # pluggy calls the list back to front: later registrations and tryfirst run first.
        impls = tuple(
            _Impl(impl.function, tuple(impl.argnames), impl.plugin_name,
                  inspect.iscoroutinefunction(impl.function))
            for impl in reversed(caller.get_hookimpls()))
        self._impl_cache[hook_name] = (self.pm.changes, impls)
        return impls

    @staticmethod
    def _call(impl: _Impl, kwargs: Mapping[str, Any]) -> Any:
        return impl.function(*[kwargs[name] for name in impl.argnames])

    @staticmethod
    def _must_await(impl: _Impl, result: Any) -> bool:
        """Whether an implementation answered with an awaitable (an ``async def`` always)."""
        return impl.is_async or (result is not None and inspect.isawaitable(result))

    async def notify(self, hook_name: str, **kwargs: Any) -> None:
        """Run every implementation; log (never raise) a plugin's exception."""
        for impl in self._impls(hook_name):
            try:
                result = self._call(impl, kwargs)
                if self._must_await(impl, result):
                    await result
            except Exception:
                log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)

    def collect(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Run every (synchronous) implementation and return their non-None results."""
        results = []
        for impl in self._impls(hook_name):
            try:
                result = self._call(impl, kwargs)
            except Exception as exc:
                raise PluginError(impl.plugin_name, hook_name, exc) from exc
            if result is not None:
                results.append(result)
        return results

    async def decide(self, hook_name: str, **kwargs: Any) -> Any:
        """Return the first non-None answer, awaiting async implementations one at a time."""
        for impl in self._impls(hook_name):
            try:
                result = self._call(impl, kwargs)
                if self._must_await(impl, result):
                    result = await result
            except Exception as exc:
                log.exception("plugin %r failed in %s", impl.plugin_name, hook_name)
                raise PluginError(impl.plugin_name, hook_name, exc) from exc
            if result is not None:
                log.debug("%s decided by %r: %r", hook_name, impl.plugin_name, result)
                return result
        return None

    def describe(self) -> list[PluginInfo]:
        """Each registered plugin and the hooks it implements, for ``mailhost plugins``."""
        out = []
        for name, plugin in self.pm.list_name_plugin():
            hooks = sorted(
                caller.name for caller in self.pm.get_hookcallers(plugin) or []
            )
            out.append(PluginInfo(name, tuple(hooks)))
        return out
