"""Models in modules with ``from __future__ import annotations``: relationship annotations become real types.

Under postponed evaluation (PEP 563) every annotation is a string. Pydantic evaluates the columns' strings itself,
but SQLModel takes a relationship's annotation as written: it hands ``"list[Book]"`` or ``"Author | None"`` to
``relationship()`` as if it were a class name, and the first mapper configuration fails with SQLAlchemy's "seems to
be using a generic class as the argument to relationship()" (and SQLAlchemy, reading ``Mapped["list[Book]"]``,
also decides that the to-many relation holds one object).

:class:`ModelMetaclass` evaluates those strings in the model's module (and the scope that declares it) just before
SQLModel builds the relationships, so SQLModel and SQLAlchemy see ``list[Book]`` and ``Author | None``. A name not
defined yet (a model declared further down, or imported only under ``TYPE_CHECKING``) stays a ``ForwardRef`` and
is resolved when the mappers are first configured: in the module first, then among the mapped classes. A name
that cannot be resolved is a :class:`~fastmango.db.errors.ModelDefinitionError` naming the model, the field, the
name and its closest match, at declaration or at that first configuration, instead of a SQLAlchemy traceback.

Columns need their types when the class is created. Pydantic evaluates their strings in the module, so a type
declared further down is a ``ModelDefinitionError`` at declaration (SQLModel would fail with ``issubclass() arg 1
must be a class``); for a model declared in a function, the function's names are used too (pydantic, called
through SQLModel's metaclass, would look in SQLModel's frame instead).
"""

from __future__ import annotations

import builtins
import contextlib
import difflib
import sys
import weakref
from dataclasses import dataclass
from typing import Any, ForwardRef, get_args

from sqlalchemy import event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Mapper
from sqlmodel.main import RelationshipInfo, SQLModelMetaclass

from fastmango.db.errors import ModelDefinitionError


@dataclass(frozen=True)
class _Pending:
    """A name in a relationship's annotation that was not defined when its model was declared."""

    field: str
    name: str
    annotation: str


# Per model class, the names its relationships still need; weak, so a discarded model takes its entries along.
_PENDING: weakref.WeakKeyDictionary[type, list[_Pending]] = weakref.WeakKeyDictionary()


class _Namespace(dict[str, Any]):
    """The names an annotation string sees: the declaring scope, the module, builtins; others become ForwardRefs."""

    def __init__(self, localns: dict[str, Any], globalns: dict[str, Any]) -> None:
        super().__init__(localns)
        self.globalns = globalns
        self.missing: list[str] = []

    def __missing__(self, key: str) -> Any:
        if key in self.globalns:
            return self.globalns[key]
        if hasattr(builtins, key):
            return getattr(builtins, key)
        self.missing.append(key)
        return ForwardRef(key)


class ModelMetaclass(SQLModelMetaclass):
    """SQLModel's metaclass, evaluating string annotations where SQLModel (or pydantic, for it) would not."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any], **kwargs: Any) -> Any:
        localns = _declaring_locals(sys._getframe(1))
        if localns:
            _evaluate_column_annotations(namespace, localns)
        try:
            return super().__new__(mcs, name, bases, namespace, **kwargs)
        except Exception as error:
            # SQLModel builds a table's columns as the class is created: a column type not defined by then fails
            # deep inside it (``issubclass() arg 1 must be a class``). Say which field and name instead.
            problem = _undefined_column_type(name, namespace, localns) if kwargs.get("table") else None
            if problem is None:
                raise
            raise ModelDefinitionError(problem) from error

    def __init__(cls, classname: str, bases: tuple[type, ...], dict_: dict[str, Any], **kw: Any) -> None:
        # Called by the class statement itself, so the caller's frame is the scope that declares the model.
        resolve_relationship_annotations(cls, _declaring_locals(sys._getframe(1)))
        super().__init__(classname, bases, dict_, **kw)


def _declaring_locals(frame: Any) -> dict[str, Any]:
    """The local names of the function that declares a model (none for a module-level class)."""
    return dict(frame.f_locals) if frame.f_globals is not frame.f_locals else {}


def _evaluate_column_annotations(namespace: dict[str, Any], localns: dict[str, Any]) -> None:
    """Evaluate the string column annotations of a model declared in a function, with that function's names.

    Pydantic looks names up in the module and in the frame that calls its metaclass, which for a SQLModel is
    SQLModel's own ``__new__``: a column typed with a class local to the function (``colour: Colour``) would not
    resolve. Annotations naming something undefined stay strings, for pydantic to report as usual.
    """
    module = sys.modules.get(namespace.get("__module__", ""))
    globalns = vars(module) if module is not None else {}
    annotations = namespace.get("__annotations__", {})
    for field, source in annotations.items():
        if not isinstance(source, str) or isinstance(namespace.get(field), RelationshipInfo):
            continue
        names = _Namespace(localns, globalns)
        try:
            value = eval(source, globalns, names)
        except Exception:
            continue
        if not names.missing:
            annotations[field] = value


def _undefined_column_type(name: str, namespace: dict[str, Any], localns: dict[str, Any]) -> str | None:
    """Why a table model's string column annotation cannot be evaluated, if it names something undefined."""
    module = sys.modules.get(namespace.get("__module__", ""))
    globalns = vars(module) if module is not None else {}
    for field, annotation in namespace.get("__annotations__", {}).items():
        source = annotation.__forward_arg__ if isinstance(annotation, ForwardRef) else annotation
        if not isinstance(source, str) or isinstance(namespace.get(field), RelationshipInfo):
            continue
        names = _Namespace(localns, globalns)
        with contextlib.suppress(Exception):
            eval(source, globalns, names)
        if names.missing:
            missing = names.missing[0]
            return (
                f"{namespace.get('__module__')}.{name}.{field}: {_named(missing, source)} is not defined when the "
                f"model is declared; a column's type must exist before its model "
                f"(declare or import it above {name}){_did_you_mean(missing, globalns)}"
            )
    return None


def _module_namespace(cls: type) -> dict[str, Any]:
    module = sys.modules.get(cls.__module__)
    return vars(module) if module is not None else {}


def _builds_relationships(cls: type) -> bool:
    """What SQLModel checks before building relationships: a table model none of whose bases is one."""

    def is_table(klass: type) -> bool:
        config = getattr(klass, "model_config", None)
        return bool(config and config.get("table", False))

    return is_table(cls) and not any(is_table(base) for base in cls.__bases__)


def resolve_relationship_annotations(cls: type, localns: dict[str, Any] | None = None) -> None:
    """Replace the string annotations of ``cls``'s relationships by the types they name.

    Names not defined yet become ``ForwardRef``s, resolved at the first mapper configuration.

    Raises:
        ModelDefinitionError: an annotation does not parse, or uses an undefined name as a type (``List[Book]``
            without importing ``List``).
    """
    if not _builds_relationships(cls):
        return
    annotations = cls.__annotations__  # the class's own dict (SQLModel writes to it too), not a copy
    globalns = _module_namespace(cls)
    pending: list[_Pending] = []
    for field, info in getattr(cls, "__sqlmodel_relationships__", {}).items():
        raw = annotations.get(field)
        if info.sa_relationship is not None or raw is None:
            continue
        source = raw if isinstance(raw, str) else None
        if source is not None:
            namespace = _Namespace({**(localns or {}), cls.__name__: cls}, globalns)
            raw = _evaluate(cls, field, source, globalns, namespace)
            annotations[field] = raw
        for target in _classes(raw):
            if target is not cls and not isinstance(sa_inspect(target, raiseerr=False), Mapper):
                raise ModelDefinitionError(
                    f"{_where(cls, field)}: {_named(target.__name__, source or repr(raw))} is "
                    f"{target.__module__}.{target.__qualname__}, not a table model (declare it with table=True)"
                )
        pending.extend(_Pending(field, name, source or repr(raw)) for name in _forward_names(raw))
    if pending:
        _PENDING[cls] = pending


def _evaluate(cls: type, field: str, source: str, globalns: dict[str, Any], namespace: _Namespace) -> Any:
    try:
        return eval(source, globalns, namespace)
    except SyntaxError as error:
        raise ModelDefinitionError(
            f"{_where(cls, field)}: the annotation {source!r} is not a valid type expression ({error.msg})"
        ) from None
    except Exception as error:
        if not namespace.missing:
            message = f"{_where(cls, field)}: cannot evaluate the annotation {source!r}: {error}"
            raise ModelDefinitionError(message) from error
        name = namespace.missing[0]
        raise ModelDefinitionError(
            f"{_where(cls, field)}: {_named(name, source)} is not defined in {cls.__module__}"
            f"{_did_you_mean(name, globalns)}"
        ) from None


def _classes(annotation: Any) -> list[type]:
    """The classes an evaluated relationship annotation names (``list[Book]``: ``Book``), ``None`` left out."""
    if isinstance(annotation, type) and not get_args(annotation):
        return [] if annotation is type(None) else [annotation]
    return [klass for arg in get_args(annotation) for klass in _classes(arg)]


def _forward_names(annotation: Any) -> list[str]:
    """The names left for later in an evaluated annotation: its ``ForwardRef``s and strings, at any depth."""
    if isinstance(annotation, str):
        return [annotation]
    if isinstance(annotation, ForwardRef):
        return [annotation.__forward_arg__]
    return [name for arg in get_args(annotation) for name in _forward_names(arg)]


def _named(name: str, annotation: str) -> str:
    return repr(name) if name == annotation else f"{name!r} (in the annotation {annotation!r})"


def _where(cls: type, field: str) -> str:
    return f"{cls.__module__}.{cls.__qualname__}.{field}"


def _did_you_mean(name: str, candidates: Any) -> str:
    close = difflib.get_close_matches(name, [c for c in candidates if not c.startswith("_")], n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _mapped_classes(registry: Any) -> list[type]:
    return [mapper.class_ for mapper in registry.mappers]


def _find_model(cls: type, pending: _Pending) -> type | None:
    """The mapped class ``pending.name`` stands for: the module's name first, then a mapped class of that name."""
    registry: Any = sa_inspect(cls).registry
    try:
        target = eval(pending.name, _module_namespace(cls), {cls.__name__: cls})
    except Exception:
        target = None
    if isinstance(target, type):
        if isinstance(sa_inspect(target, raiseerr=False), Mapper):
            return target
        raise ModelDefinitionError(
            f"{_where(cls, pending.field)}: {_named(pending.name, pending.annotation)} is "
            f"{target.__module__}.{target.__qualname__}, not a table model (declare it with table=True)"
        )
    # Not in the module (imported only under TYPE_CHECKING, or declared in a function): a mapped class by name.
    classes = _mapped_classes(registry)
    found = [k for k in classes if pending.name in (k.__name__, f"{k.__module__}.{k.__qualname__}")]
    if len(found) > 1:
        found = [k for k in found if k.__module__ == cls.__module__] or found
    if len(found) == 1:
        return found[0]
    if found:
        paths = ", ".join(sorted(f"{k.__module__}.{k.__qualname__}" for k in found))
        raise ModelDefinitionError(
            f"{_where(cls, pending.field)}: {_named(pending.name, pending.annotation)} is the name of several "
            f"models ({paths}); import the one you mean into {cls.__module__}"
        )
    if "." in pending.name:
        return None  # a module path SQLAlchemy's registry may still resolve ("models.Book"); its error if not
    names = {*_module_namespace(cls), *(k.__name__ for k in classes)}
    raise ModelDefinitionError(
        f"{_where(cls, pending.field)}: {_named(pending.name, pending.annotation)} is neither defined in "
        f"{cls.__module__} nor the name of a model{_did_you_mean(pending.name, names)}"
    )


def resolve_pending(registry: Any) -> None:
    """Point every relationship still waiting for a name in ``registry``'s models at the model it names.

    Raises:
        ModelDefinitionError: a name is undefined, ambiguous or not a table model.
    """
    for cls, entries in list(_PENDING.items()):
        mapper: Any = sa_inspect(cls, raiseerr=False)
        if not isinstance(mapper, Mapper) or mapper.registry is not registry:
            continue
        for pending in entries:
            target = _find_model(cls, pending)
            if target is None:
                continue
            prop: Any = mapper.get_property(pending.field)
            if not prop.argument or isinstance(prop.argument, str):
                prop.argument = target
        del _PENDING[cls]


@event.listens_for(Mapper, "before_mapper_configured")
def _before_mapper_configured(mapper: Mapper[Any], class_: type) -> None:
    if _PENDING:
        resolve_pending(mapper.registry)
