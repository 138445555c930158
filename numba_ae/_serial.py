"""Config-as-data base class: dataclass <-> dict <-> JSON, exactly.

Every config class (updaters, layers, distributions, network) derives from
:class:`ConfigBase`.  ``to_dict()`` returns the constructor arguments; nested
configs are written as ``{"class_name": ..., "config": {...}}`` (as Keras
does), lists of them as lists; ``from_dict(d)`` is ``cls(**d)`` with nested
configs rebuilt from their class name, wrapped in an error naming the class.  Fields
declared with :func:`added_field` (keyword-only, added after model files of format 1.0
existed) are left out of ``to_dict()`` while they hold their default, so configs that do
not use them serialise exactly as before, and dicts without them load with the default.

Configs are immutable: every config class is a frozen dataclass (declared with
:func:`config_dataclass`), list-valued fields are stored as tuples, and
assigning or deleting a field raises :class:`dataclasses.FrozenInstanceError`
(an ``AttributeError``).  ``conf.replace(field=value)`` returns an edited copy,
validated by the constructor.  So a network's config can never drift from the
network built from it, nor from the model file it writes.
"""
import dataclasses
import json
import math

_CONFIG_CLASSES = {}


def set_field(obj, name, value):
    """Set field ``name`` of a frozen config: only for ``__post_init__`` normalisation
    (the object is not yet handed out); everything else builds a new config."""
    object.__setattr__(obj, name, value)


def _frozen_setattr(self, name, value):
    raise dataclasses.FrozenInstanceError(
        f"cannot assign to {type(self).__name__}.{name}: configs are immutable; "
        f"use conf.replace({name}=...) for an edited copy")


def _frozen_delattr(self, name):
    raise dataclasses.FrozenInstanceError(
        f"cannot delete {type(self).__name__}.{name}: configs are immutable; "
        f"use conf.replace(...) for an edited copy")


def config_dataclass(cls):
    """``@dataclass(frozen=True)`` for config classes, with an assignment error that says
    how to edit (``conf.replace(field=value)``).  Equality and hashing come from the
    fields (all hashable: scalars, strings, tuples, nested configs)."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    cls.__setattr__ = _frozen_setattr
    cls.__delattr__ = _frozen_delattr
    return cls


def added_field(default):
    """A config field added after model-file format 1.0 was first written (keyword-only).

    ``to_dict`` leaves it out while it holds ``default``, so a config that does not use it
    serialises exactly as before the field existed (model files re-save byte for byte), and
    a dict or file without it loads with ``default`` (the old behaviour)."""
    return dataclasses.field(default=default, kw_only=True, metadata={"omit_default": True})


def _omitted(f, value):
    return f.metadata.get("omit_default", False) and type(value) is type(f.default) and value == f.default


def _encode(value):
    if isinstance(value, ConfigBase):
        return {"class_name": type(value).__name__, "config": value.to_dict()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"config values must be finite numbers; got {value!r}")
    return value


def _decode(value):
    if isinstance(value, dict) and set(value) == {"class_name", "config"}:
        return deserialize(value)
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def deserialize(d):
    """Rebuild a config from ``{"class_name": ..., "config": {...}}``."""
    if not isinstance(d, dict) or "class_name" not in d or "config" not in d:
        raise ValueError(f"expected a serialized config {{'class_name': ..., 'config': ...}}; got {d!r:.200}")
    name = d["class_name"]
    cls = _CONFIG_CLASSES.get(name)
    if cls is None:
        raise ValueError(f"unknown config class {name!r}; known: {sorted(_CONFIG_CLASSES)}")
    return cls.from_dict(d["config"])


def serialize(obj):
    """``{"class_name": ..., "config": obj.to_dict()}``."""
    return _encode(obj)


class ConfigBase:
    """Mixin for (frozen) config dataclasses: exact dict/JSON round trip and ``replace``."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _CONFIG_CLASSES[cls.__name__] = cls

    def replace(self, **changes):
        """A new config with ``changes`` applied, validated as the constructor validates
        (it is :func:`dataclasses.replace`); this one is left unchanged.

        >>> layer.replace(corruption_level=0.5)
        """
        names = {f.name for f in dataclasses.fields(self) if f.init}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"{type(self).__name__}: unknown config field(s) {sorted(unknown)}; "
                            f"its fields are {sorted(names)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self):
        """The constructor arguments as JSON-compatible data (fields declared with
        :func:`added_field` are left out while they hold their default)."""
        return {f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(self)
                if not _omitted(f, getattr(self, f.name))}

    @classmethod
    def from_dict(cls, d):
        """``cls(**d)`` with nested configs rebuilt; errors name the class."""
        if not isinstance(d, dict):
            raise TypeError(f"{cls.__name__}.from_dict expects a dict; got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown config field(s) {sorted(unknown)}")
        try:
            return cls(**{k: _decode(v) for k, v in d.items()})
        except (TypeError, ValueError) as e:
            msg = str(e)
            if msg.startswith(f"{cls.__name__}:"):
                raise
            raise type(e)(f"{cls.__name__}: {msg}") from e

    def to_json(self, **kwargs):
        """JSON text of :meth:`to_dict` wrapped with the class name."""
        return json.dumps(serialize(self), **kwargs)

    @classmethod
    def from_json(cls, text):
        """Inverse of :meth:`to_json`."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{cls.__name__}.from_json: not valid JSON ({e})") from e
        obj = deserialize(d)
        if not isinstance(obj, cls):
            raise ValueError(f"{cls.__name__}.from_json: the JSON holds a {type(obj).__name__}")
        return obj

