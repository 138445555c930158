"""Data-parallel training on Dask: synchronous parameter averaging (DL4J's
``ParameterAveragingTrainingMaster``), see ``docs/distributed.md``.

``import numba_ae`` does not import this package (nor dask); it needs the
``distributed`` extra: ``pip install numba_ae[distributed]`` (``dask[array]`` and
``distributed``).  Workers need only ``numba_ae`` (with that extra) installed.

Modules: ``trainer`` (``DaskTrainer``, the driver), ``_partitions`` (data to partition
futures), ``_tasks`` (what runs on the workers; no dask import), ``_average`` (folding
a round's results into the network), ``_plan`` (rounds and seeds).
"""
try:
    import dask.array  # noqa: F401
    import distributed  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise ImportError("numba_ae.distributed needs dask[array] and distributed: "
                      "pip install 'numba_ae[distributed]'") from exc

from .trainer import DaskTrainer

__all__ = ["DaskTrainer"]
