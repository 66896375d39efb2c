"""The admin's assistant panel: a staff user asks in plain language, an agent answers through the site's resources.

    POST /admin/api/assistant          {"message", "history"}   -> {"answer", "history", "pending"}
    POST /admin/api/assistant/approve  {"history", "decisions"} -> {"answer", "history", "pending"}

The agent's tools are the model tools of every registered admin's resource (``<name>_list``/``_get`` and the writes
``_create``/``_update``/``_delete``) and the admin actions (``<name>_<action>``), in a registry of the site's own:
they run as the staff user who asks (the ``ai`` surface, so the history says "via AI tool on behalf of"), each
offered only when the user holds its permission and checked again by the resource when it runs. Every write waits
for the user's decision (Pydantic AI deferred tools): the answer lists it in ``pending`` and nothing is written
until ``approve`` says yes. ``history`` is Pydantic AI's message history as JSON; the client keeps it and sends it
back. It is the client's own: whatever it holds, the tools still act with the current user's rights only.

The model is ``site.assistant_model`` (tests), else the ``admin_assistant_model`` alias of ``ai_models``, else the
``default`` alias unless it is only the offline test model; with none, the endpoints answer a 503 problem saying
how to configure one and ``GET /site`` says ``"assistant": false``. Pydantic AI is imported when a run starts.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Body, Depends, Request, Response

from fastmango.admin.action_tools import action_tool_spec
from fastmango.admin.site import AdminSite
from fastmango.ai.agents import AgentSpec
from fastmango.ai.model_tools import model_tool_specs
from fastmango.ai.registry import Registry
from fastmango.api.caller import Caller
from fastmango.api.labels import object_label
from fastmango.api.serialize import dumps
from fastmango.auth.dependencies import require_staff
from fastmango.auth.models import Group, Permission, User
from fastmango.core.errors import ImproperlyConfigured, ProblemError
from fastmango.core.problems import problem_type

if TYPE_CHECKING:
    from fastmango.admin.options import ModelAdmin

#: Characters a question may have at most.
MAX_MESSAGE_LENGTH = 4000
#: Models whose rows the assistant reads but never writes: accounts and rights stay with humans.
READ_ONLY_MODELS: tuple[type[Any], ...] = (User, Group, Permission)

INSTRUCTIONS = """\
You are the assistant of a web admin. A staff user asks about the site's data or asks you to change it.
Answer from the tools only; never invent rows, keys or values. The tools act with the user's permissions: when
one is refused, say that the user may not do that. A tool that writes (create, update, delete or an action) is
proposed to the user, who approves or rejects it: propose writes only when asked to change something, with the
exact keys and values, and after a rejection do not propose it again. Answer briefly, in the user's language.
The models (name: what they hold): {models}."""

Staff = Annotated[User, Depends(require_staff)]


def model_of(site: AdminSite, settings: Any) -> Any:
    """The model the assistant of ``site`` runs on: a Pydantic AI model, an ``ai_models`` alias, or None (off)."""
    if site.assistant_model is not None:
        return site.assistant_model
    alias = getattr(settings, "admin_assistant_model", None)
    if alias:
        return alias
    default = settings.ai_models.get("default")
    ids = [default] if isinstance(default, str) else list(default or [])
    if ids and any(model_id != "test" for model_id in ids):
        return "default"
    return None


def available(site: AdminSite, settings: Any) -> bool:
    """Whether the assistant panel can run: a model is configured and Pydantic AI is installed."""
    return model_of(site, settings) is not None and importlib.util.find_spec("pydantic_ai") is not None


def check(settings: Any) -> None:
    """Refuse an ``admin_assistant_model`` that is not an alias of ``ai_models`` (at start-up).

    Raises:
        ImproperlyConfigured: naming the aliases there are.
    """
    alias = getattr(settings, "admin_assistant_model", None)
    if alias and alias not in settings.ai_models:
        known = ", ".join(sorted(settings.ai_models)) or "none"
        raise ImproperlyConfigured(
            f"admin_assistant_model = {alias!r} is not an alias of ai_models (aliases: {known}); add it, e.g. "
            f'FASTMANGO_AI_MODELS=\'{{"default": "test", "{alias}": "openai:gpt-4.1"}}\''
        )


def tools_of(site: AdminSite) -> Registry:
    """A registry of the tools the assistant offers over ``site``: each admin's model tools and actions."""
    tools = Registry()
    for model_admin in site:
        writes = () if model_admin.model in READ_ONLY_MODELS else ("create", "update", "delete")
        for spec in model_tool_specs(model_admin.resource, actions=("list", "get", *writes)):
            tools.add(spec)
        if writes:
            for admin_action in model_admin.admin_actions.values():
                if admin_action.tool and admin_action.name != "delete":
                    tools.add(action_tool_spec(model_admin.resource, admin_action))
    return tools


def agent_of(site: AdminSite, settings: Any) -> AgentSpec:
    """The assistant's agent over ``site`` (built again when the model or the registrations change).

    Raises:
        ProblemError: 503 when no model is configured.
    """
    model = model_of(site, settings)
    if model is None or importlib.util.find_spec("pydantic_ai") is None:
        raise ProblemError(
            503,
            "The admin assistant has no AI model. Set FASTMANGO_ADMIN_ASSISTANT_MODEL to an alias of ai_models "
            '(FASTMANGO_AI_MODELS=\'{"default": "test", "assistant": "openai:gpt-4.1"}\' with OPENAI_API_KEY, or '
            "FASTMANGO_AI_OPENAI_BASE_URL for a local OpenAI-compatible server), or point the default alias at a "
            'model; Pydantic AI comes with pip install "fastmango[ai]".',
            title="Assistant not configured",
            type=problem_type("service-unavailable"),
        )
    key = (id(model) if not isinstance(model, str) else model, tuple(id(admin) for admin in site))
    if site._assistant is None or site._assistant[0] != key:
        models = ", ".join(f"{admin.name}: {admin.label}" for admin in site)
        spec = AgentSpec(
            name="admin_assistant",
            instructions=INSTRUCTIONS.format(models=models),
            tools=("*",),
            model=model,
            registry=tools_of(site),
        )
        site._assistant = (key, spec)
    spec = site._assistant[1]
    return spec  # type: ignore[no-any-return]


def assistant_router(site: AdminSite, prefix: str = "/admin/api") -> APIRouter:
    """``POST <prefix>/assistant`` and ``POST <prefix>/assistant/approve`` over ``site``."""
    router = APIRouter(prefix=prefix, tags=["admin"], include_in_schema=False)

    @router.post("/assistant")
    async def ask(request: Request, user: Staff, body: Annotated[Any, Body()] = None) -> Response:
        message = body.get("message") if isinstance(body, dict) else None
        if not isinstance(message, str) or not message.strip() or len(message) > MAX_MESSAGE_LENGTH:
            raise _invalid("message", f"A question of 1 to {MAX_MESSAGE_LENGTH} characters is expected.")
        spec = agent_of(site, request.app.settings)
        messages = _history(body.get("history"))
        if messages and _unanswered(spec, messages):
            raise _invalid("history", "The history ends with tool calls that have no result.")
        if messages and _waiting(spec, messages):
            raise ProblemError(
                409, "Proposed changes wait for a decision: approve or reject them first.", title="Conflict"
            )
        result = await spec.bind(user, request, request.app).run(message, message_history=messages)
        return _json(await _answer(site, spec, Caller(user=user, request=request, surface="admin"), result))

    @router.post("/assistant/approve")
    async def approve(request: Request, user: Staff, body: Annotated[Any, Body()] = None) -> Response:
        from pydantic_ai import DeferredToolResults, ToolDenied

        spec = agent_of(site, request.app.settings)
        if not isinstance(body, dict):
            raise _invalid("history", "The history of the answer that asked for approval is expected.")
        messages = _history(body.get("history"))
        decisions = body.get("decisions")
        if not isinstance(decisions, dict) or not all(isinstance(value, bool) for value in decisions.values()):
            raise _invalid("decisions", "An object of tool call ids to true (approve) or false (reject) is expected.")
        waiting = _waiting(spec, messages or [])
        if _unanswered(spec, messages or []):
            raise _invalid("history", "The history ends with tool calls that have no result.")
        if not waiting:
            raise ProblemError(409, "No proposed change waits for a decision in this history.", title="Conflict")
        unknown = sorted(set(decisions) - set(waiting))
        if unknown:
            raise _invalid("decisions", f"No proposed change has the id {unknown[0]!r}.")
        rejected = ToolDenied("The user rejected this change; it was not made.")
        approvals: dict[str, Any] = {call_id: True if decisions.get(call_id) else rejected for call_id in waiting}
        result = await spec.bind(user, request, request.app).run(
            None, message_history=messages, deferred_tool_results=DeferredToolResults(approvals=approvals)
        )
        return _json(await _answer(site, spec, Caller(user=user, request=request, surface="admin"), result))

    return router


def _invalid(field: str, message: str) -> ProblemError:
    return ProblemError(
        422, f"{field}: {message}", title="Validation failed", errors=[{"field": field, "message": message}]
    )


def _json(payload: Any) -> Response:
    return Response(dumps(payload), media_type="application/json")


def _history(value: Any) -> list[Any] | None:
    """The message history the client sent back (None: a new conversation)."""
    if value is None:
        return None
    from pydantic import ValidationError
    from pydantic_ai.messages import ModelMessagesTypeAdapter

    try:
        return ModelMessagesTypeAdapter.validate_python(value)
    except ValidationError:
        raise _invalid("history", "Not a history from a previous answer of the assistant.") from None


def _waiting(spec: AgentSpec, messages: list[Any]) -> list[str]:
    """The ids of the write tool calls of the history's last response that have no result yet: they wait for a
    decision (the read tools called alongside them have run; their results follow the response)."""
    return _open_calls(spec, messages, approval=True)


def _unanswered(spec: AgentSpec, messages: list[Any]) -> list[str]:
    """The ids of the calls of the history's last response to tools that need no approval and have no result:
    a history the assistant never answers with (it runs those calls before it answers), so a forged one."""
    return _open_calls(spec, messages, approval=False)


def _open_calls(spec: AgentSpec, messages: list[Any], *, approval: bool) -> list[str]:
    """The ids of the last response's calls without a result, to tools that need approval (or that do not)."""
    from pydantic_ai.messages import ModelResponse, ToolCallPart

    last = next((i for i in range(len(messages) - 1, -1, -1) if isinstance(messages[i], ModelResponse)), None)
    if last is None:
        return []
    answered = {getattr(part, "tool_call_id", None) for message in messages[last + 1 :] for part in message.parts}
    approved = {tool.name for tool in spec.registry if tool.requires_approval}
    return [
        part.tool_call_id
        for part in messages[last].parts
        if isinstance(part, ToolCallPart)
        and (part.tool_name in approved) == approval
        and part.tool_call_id not in answered
    ]


async def _answer(site: AdminSite, spec: AgentSpec, caller: Caller, result: Any) -> dict[str, Any]:
    from pydantic_ai import DeferredToolRequests
    from pydantic_ai.messages import ModelMessagesTypeAdapter, ModelResponse, TextPart

    messages = result.all_messages()
    history = ModelMessagesTypeAdapter.dump_python(messages, mode="json")
    output = result.output
    if not isinstance(output, DeferredToolRequests):
        return {"answer": str(output), "history": history, "pending": []}
    response = next((message for message in reversed(messages) if isinstance(message, ModelResponse)), None)
    said = [
        part.content
        for part in (response.parts if response is not None else [])
        if isinstance(part, TextPart) and part.content.strip()
    ]
    pending = []
    for call in output.approvals:
        args = call.args_as_dict()
        tool = spec.registry.get(call.tool_name) if call.tool_name in spec.registry else None
        summary = await _summary(site, tool.metadata if tool else {}, call.tool_name, args, caller)
        pending.append({"id": call.tool_call_id, "tool": call.tool_name, "args": args, "summary": summary})
    return {"answer": "\n\n".join(said) or None, "history": history, "pending": pending}


async def _summary(site: AdminSite, metadata: dict[str, Any], tool: str, args: dict[str, Any], caller: Caller) -> str:
    """What a proposed write would do, in words: ``Delete post "Hello" (#3)``."""
    name, action = metadata.get("resource"), metadata.get("action")
    if not isinstance(name, str) or name not in site:
        return f"Run {tool} with {_values(args)}"
    model_admin = site.get(name)
    singular = str(model_admin.label_singular).lower()
    if action == "create":
        return f"Create a {singular}: {_values(args)}"
    if action == "update":
        return f"Change {singular} {await _row(model_admin, caller, args.get('pk'))}: {_values(args.get('changes'))}"
    if action == "delete":
        return f"Delete {singular} {await _row(model_admin, caller, args.get('pk'))}"
    given = args.get("pks")
    pks: list[Any] = given if isinstance(given, list) else []
    chosen = model_admin.admin_actions.get(metadata.get("admin_action") or "")
    label = chosen.label if chosen is not None else tool
    rows = [await _row(model_admin, caller, pk) for pk in pks[:10]]
    more = f" and {len(pks) - 10} more" if len(pks) > 10 else ""
    what = str(model_admin.label_singular if len(pks) == 1 else model_admin.label).lower()
    return f"{label}: {len(pks)} {what}: {', '.join(rows)}{more}"


async def _row(model_admin: ModelAdmin, caller: Caller, pk: Any) -> str:
    """``"Hello" (#3)``, or ``#3`` when the user cannot see the row (the write will say why it fails)."""
    try:
        if not await model_admin.resource.allowed(caller, "get"):
            return f"#{pk}"
        row = await model_admin.resource.read_one(caller, pk)
    except Exception:
        return f"#{pk}"
    return f'"{object_label(model_admin.model, row)}" (#{pk})'


def _values(values: Any) -> str:
    if not isinstance(values, dict) or not values:
        return "no values"
    return ", ".join(f"{key} = {value!r}" for key, value in values.items())
