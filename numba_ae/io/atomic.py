"""Atomic file replacement: write to a temporary file, fsync, rename over the target.

:func:`write_atomically` calls ``write(temp_path)`` on a fresh temporary file in
the target's folder and moves it over the target with :func:`os.replace` only
when ``write`` returned; the file is fsynced before the rename and the folder
after it.  Any exception (``KeyboardInterrupt`` included) removes the temporary
file and leaves an existing target untouched.  An existing target keeps its
permission bits; a new one gets ``0o666 & ~umask``.  Saving through a symbolic
link replaces the link's target and keeps the link.
"""
import os
import tempfile

__all__ = ["write_atomically"]


def _umask():
    """The process umask, read without changing it where possible (Linux)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # pragma: no cover - non-Linux fallback
    os.umask(mask)
    return mask


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def write_atomically(path, write):
    """Create or replace the file ``path`` with what ``write(temp_path)`` writes, atomically.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        The target.
    write : callable
        ``write(temp_path)`` writes the whole file at ``temp_path`` (an existing,
        empty file in the target's folder) and closes it.

    Raises
    ------
    OSError
        The file cannot be written (missing folder, target is a directory, ...);
        an existing target is then unchanged.  Whatever ``write`` raises passes
        through, after the temporary file is removed.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if os.path.islink(path):
        path = os.path.realpath(path)  # replace the link's target, keep the link
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.exists(path):
        mode = os.stat(path).st_mode & 0o7777
    else:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        os.close(fd)
        write(tmp)
        _fsync(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(folder)
