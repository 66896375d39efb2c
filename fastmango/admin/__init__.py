"""Admin: a web admin over the registered resources, permission-aware, with the history of every write.

    from fastmango import admin

    admin.register(post_resource, list_display=["id", "title", "published"], list_filter=["published"],
                   search_fields=["title"], autocomplete_fields=["author_id"], actions=[publish])

The project's ``admin.py`` is loaded when the app starts; :class:`~fastmango.admin.plugin.AdminPlugin` (in every
app by default) serves the API under ``/admin/api`` and the UI at ``/admin``. See docs/admin.md.
"""

from fastmango.admin.actions import AdminAction, action
from fastmango.admin.options import Inline, ModelAdmin
from fastmango.admin.site import AdminSite, register, site

__all__ = ["AdminAction", "AdminSite", "Inline", "ModelAdmin", "action", "register", "site"]
