"""Command-line arguments of the examples: bad values are argparse usage errors, not tracebacks.

Nothing is trained: a bad value stops in ``parse_args``; for good values
``build`` is replaced by a stub that stops the run.
"""
import pytest

from numba_ae.examples import denoising_mnist


class _Stop(Exception):
    pass


@pytest.mark.parametrize("flag,value", [
    ("--epochs", "0"), ("--epochs", "-1"), ("--epochs", "1.5"), ("--epochs", "x"),
    ("--batch-size", "0"), ("--batch-size", "-3"),
    ("--every", "0"), ("--every", "-1"),
    ("--seed", "-1"),
])
def test_bad_value_is_a_usage_error_naming_the_flag(monkeypatch, capsys, flag, value):
    def build(seed=0):
        raise AssertionError("must not get past argument parsing")

    monkeypatch.setattr(denoising_mnist, "build", build)
    with pytest.raises(SystemExit) as info:
        denoising_mnist.main([flag, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage:")
    assert f"argument {flag}:" in err
    assert value in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv,seed", [
    ([], 0),
    (["--epochs", "2", "--batch-size", "1", "--every", "1", "--seed", "0"], 0),
    (["--seed", "7"], 7),
])
def test_good_values_get_past_parsing(monkeypatch, argv, seed):
    seen = {}

    def build(seed=0):
        seen["seed"] = seed
        raise _Stop

    monkeypatch.setattr(denoising_mnist, "build", build)
    with pytest.raises(_Stop):
        denoising_mnist.main(argv)
    assert seen["seed"] == seed
