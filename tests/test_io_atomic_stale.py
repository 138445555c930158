"""Model files (``numba_ae.io.atomic``): temporaries left by killed saves, errors naming the target.

A save killed with SIGKILL cannot remove its temporary file; the next save to
the same target removes it when the writer process is gone, and never touches
a temporary of a live writer or a file that is not one of this target's
temporaries.  Errors while saving name the target, not only the temporary.
"""
import os
import re
import signal
import subprocess
import sys
import textwrap

import pytest

from numba_ae.io import atomic, load_model, save_model

from io_helpers import bits, small_net

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A child that starts a save whose write callback writes 1 MiB, reports the temp
# path and blocks until it is killed.
_CHILD = textwrap.dedent("""
    import sys, time
    from numba_ae.io.atomic import write_atomically

    def write(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"x" * (1 << 20))
        print(tmp, flush=True)
        time.sleep(600)

    write_atomically(sys.argv[1], write)
""")


def _killed_save(target):
    """Run a save to ``target`` in a child, SIGKILL it mid-write; returns (temp path, pid)."""
    env = dict(os.environ, PYTHONPATH=_REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(target)], stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        tmp = proc.stdout.readline().strip()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
    assert tmp, "the child did not start its save"
    assert proc.returncode == -signal.SIGKILL
    return tmp, proc.pid


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=60)
    return proc.pid


def test_temp_name_carries_the_writer_pid(tmp_path):
    seen = []

    def write(tmp):
        seen.append(tmp)
        with open(tmp, "wb") as fh:
            fh.write(b"data")

    atomic.write_atomically(tmp_path / "model.h5", write)
    name = os.path.basename(seen[0])
    assert os.path.dirname(seen[0]) == str(tmp_path)
    assert re.fullmatch(r"\.model\.h5\.%d\.[A-Za-z0-9_]+\.tmp" % os.getpid(), name), name
    assert os.listdir(tmp_path) == ["model.h5"]


def test_killed_saves_leave_one_temp_that_next_save_removes(tmp_path):
    target = tmp_path / "model.h5"
    net = small_net()
    save_model(net, target)
    before = open(target, "rb").read()
    for _ in range(3):
        tmp, pid = _killed_save(target)
        assert os.path.dirname(tmp) == str(tmp_path)
        assert f".{pid}." in os.path.basename(tmp)
        assert os.path.getsize(tmp) == 1 << 20  # the killed writer's data stays behind...
        # ...but each save first removes the temp of the one killed before it
        assert sorted(os.listdir(tmp_path)) == sorted(["model.h5", os.path.basename(tmp)])
        assert open(target, "rb").read() == before  # the target is untouched
    other = small_net(seed=42)
    save_model(other, target)
    assert os.listdir(tmp_path) == ["model.h5"]
    assert bits(load_model(target).params()) == bits(other.params())


def test_killed_save_to_new_target_then_save_succeeds(tmp_path):
    target = tmp_path / "new.h5"
    tmp, _ = _killed_save(target)
    assert os.listdir(tmp_path) == [os.path.basename(tmp)]
    save_model(small_net(), target)
    assert os.listdir(tmp_path) == ["new.h5"]


def test_live_writers_temps_and_unrelated_files_are_kept(tmp_path):
    target = tmp_path / "model.h5"
    dead = _dead_pid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        keep = [
            f".model.h5.{os.getpid()}.abcd1234.tmp",      # a live writer: this process
            f".model.h5.{sleeper.pid}.abcd1234.tmp",      # a live writer: a sleeping child
            f".other.h5.{dead}.abcd1234.tmp",             # another target's temp
            f".model.h5.{dead}.abcd1234.tmp.bak",         # not the pattern
            f"model.h5.{dead}.abcd1234.tmp",              # no leading dot
            f".model.h5.{dead}.tmp",                      # no random part
            f".model.h5.{dead}.ab.cd.tmp",                # two random parts
            f".model.h5.x{dead}.abcd1234.tmp",            # not a pid
            f".model.h5.{dead}.abcd1234.tmpx",
            f".xmodel.h5.{dead}.abcd1234.tmp",
            f".model.h5.{dead}.abcd1234.tmp.d",           # a folder of a similar name
            "model.h5.bak",
            ".model.h5.abcd1234.tmp",                     # old-style temp without a pid
        ]
        stale = [f".model.h5.{dead}.abcd1234.tmp", f".model.h5.{dead}.zz_99xyq.tmp"]
        for name in keep + stale:
            if name.endswith(".d"):
                os.mkdir(tmp_path / name)
            else:
                (tmp_path / name).write_bytes(b"junk")
        save_model(small_net(), target)
        assert sorted(os.listdir(tmp_path)) == sorted(keep + ["model.h5"])
    finally:
        sleeper.kill()
        sleeper.wait(timeout=60)


def test_stale_temps_are_removed_only_for_their_own_target(tmp_path):
    dead = _dead_pid()
    (tmp_path / f".a.h5.{dead}.abcd1234.tmp").write_bytes(b"junk")
    (tmp_path / f".b.h5.{dead}.abcd1234.tmp").write_bytes(b"junk")
    save_model(small_net(), tmp_path / "a.h5")
    assert sorted(os.listdir(tmp_path)) == sorted(["a.h5", f".b.h5.{dead}.abcd1234.tmp"])


def test_exception_in_write_removes_own_temp_and_keeps_others(tmp_path):
    live = tmp_path / f".model.h5.{os.getpid()}.live0000.tmp"
    live.write_bytes(b"junk")

    def write(tmp):
        raise RuntimeError("injected")

    with pytest.raises(RuntimeError, match="injected"):
        atomic.write_atomically(tmp_path / "model.h5", write)
    assert os.listdir(tmp_path) == [live.name]


def test_missing_folder_error_names_the_target(tmp_path):
    target = tmp_path / "no" / "such" / "model.h5"
    with pytest.raises(FileNotFoundError) as info:
        save_model(small_net(), target)
    assert str(target) in str(info.value)
    assert info.value.filename == str(target)
    assert ".tmp" not in str(info.value)
    assert isinstance(info.value.__cause__, FileNotFoundError)  # the original, naming the temp


def test_folder_that_is_a_file_error_names_the_target(tmp_path):
    (tmp_path / "plain").write_bytes(b"not a folder")
    target = tmp_path / "plain" / "model.h5"
    with pytest.raises(NotADirectoryError) as info:
        save_model(small_net(), target)
    assert str(target) in str(info.value)
    assert ".tmp" not in str(info.value)


def test_target_that_is_a_folder_error_names_the_target(tmp_path):
    with pytest.raises(IsADirectoryError) as info:
        save_model(small_net(), tmp_path)
    assert str(tmp_path) in str(info.value)
    assert ".tmp" not in str(info.value)
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root ignores folder permissions")
def test_read_only_folder_error_names_the_target(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    os.chmod(folder, 0o555)
    try:
        target = folder / "model.h5"
        with pytest.raises(PermissionError) as info:
            save_model(small_net(), target)
        assert str(target) in str(info.value)
        assert ".tmp" not in str(info.value)
    finally:
        os.chmod(folder, 0o755)


def test_os_error_without_errno_keeps_its_text_and_names_the_target(tmp_path, monkeypatch):
    def boom(src, dst):
        raise OSError("replace failed (injected)")

    monkeypatch.setattr(atomic.os, "replace", boom)
    target = tmp_path / "model.h5"
    with pytest.raises(OSError, match="injected") as info:
        save_model(small_net(), target)
    assert str(target) in str(info.value)
    assert os.listdir(tmp_path) == []
