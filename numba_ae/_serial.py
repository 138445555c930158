"""Config-as-data base class: dataclass <-> dict <-> JSON, exactly.

Every config class (updaters, layers, distributions, network) derives from
:class:`ConfigBase`.  ``to_dict()`` returns the constructor arguments; nested
configs are written as ``{"class_name": ..., "config": {...}}`` (as Keras
does), lists of them as lists; ``from_dict(d)`` is ``cls(**d)`` with nested
configs rebuilt from their class name, wrapped in an error naming the class.
"""
import dataclasses
import json
import math

_CONFIG_CLASSES = {}


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
    """Mixin for config dataclasses: exact dict/JSON round trip."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _CONFIG_CLASSES[cls.__name__] = cls

    def to_dict(self):
        """The constructor arguments as JSON-compatible data."""
        return {f.name: _encode(getattr(self, f.name)) for f in dataclasses.fields(self)}

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

