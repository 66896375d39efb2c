"""The plugin protocol through which :class:`~fastmango.FastMango` wires in each layer.

A plugin is any object with these members; each layer that needs wiring has a small ``plugin.py``.
A plugin with tables names the package of its migrations in ``migrations``.
``install`` adds routes, middleware and handlers while the app is built; ``configure`` prepares what needs
no I/O (an engine, a backend) and also runs in :func:`fastmango.setup`; ``startup``/``shutdown`` run in the
app's lifespan, shutdown in reverse order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from fastmango.core.errors import ImproperlyConfigured
from fastmango.core.lazy import import_string

if TYPE_CHECKING:
    from fastmango.core.app import FastMango


@runtime_checkable
class Plugin(Protocol):
    """What a fastmango plugin provides. Subclass :class:`BasePlugin` to implement only what you need."""

    name: str

    def install(self, app: FastMango) -> None: ...

    def configure(self, app: FastMango) -> None: ...

    async def startup(self, app: FastMango) -> None: ...

    async def shutdown(self, app: FastMango) -> None: ...


class BasePlugin:
    """A plugin that does nothing; override the hooks you need."""

    name = "plugin"
    #: The package of the plugin's own Alembic revisions (``"fastmango.auth.migrations"``), applied by
    #: ``fastmango migrate`` beside the project's; None when the plugin has no tables.
    migrations: str | None = None

    def install(self, app: FastMango) -> None:
        """Add routes, middleware or exception handlers to ``app``."""

    def configure(self, app: FastMango) -> None:
        """Prepare resources without I/O; called by the lifespan and by :func:`fastmango.setup`."""

    async def startup(self, app: FastMango) -> None:
        """Open connections; runs in the app's lifespan, in plugin order."""

    async def shutdown(self, app: FastMango) -> None:
        """Close connections; runs in the app's lifespan, in reverse plugin order."""


def load_plugin(spec: str | Plugin) -> Plugin:
    """Return ``spec`` itself, or instantiate the plugin class named by a ``"module:Class"`` path."""
    if not isinstance(spec, str):
        return spec
    try:
        factory = import_string(spec)
    except ImportError as exc:
        raise ImproperlyConfigured(f"plugin {spec!r} cannot be imported: {exc}; fix the PLUGINS setting") from exc
    plugin = factory()
    if not isinstance(plugin, Plugin):
        raise ImproperlyConfigured(f"plugin {spec!r} does not provide name, install, configure, startup, shutdown")
    return plugin
