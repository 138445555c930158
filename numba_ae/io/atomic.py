"""Atomic file replacement: write to a temporary file, fsync, rename over the target.

:func:`write_atomically` calls ``write(temp_path)`` on a fresh temporary file in
the target's folder, ``.<target name>.<pid>.<random>.tmp`` (``pid``: the
writing process), and moves it over the target with :func:`os.replace` only
when ``write`` returned; the file is fsynced before the rename and the folder
after it.  Any exception (``KeyboardInterrupt`` included) removes the temporary
file and leaves an existing target untouched.  A process killed mid-save
(``SIGKILL``, power loss) cannot remove its temporary file: before writing,
a save removes the temporaries of the same target whose writer process no
longer exists, and keeps those of live writers and any other file.  An
existing target keeps its permission bits; a new one gets ``0o666 & ~umask``.
Saving through a symbolic link replaces the link's target and keeps the link.
An ``OSError`` while saving is re-raised as the same type with the target as
its ``filename`` (chained from the original, which names the temporary file).
"""
import os
import re
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


def _temp_prefix(name):
    return f".{name}.{os.getpid()}."


def _stale_temp_pattern(name):
    """Matches exactly the temporaries of target ``name``; group 1 is the writer's pid."""
    return re.compile(r"\." + re.escape(name) + r"\.([0-9]+)\.[A-Za-z0-9_]+\.tmp")


def _process_gone(pid):
    """True only when no process ``pid`` exists (``os.kill(pid, 0)`` -> ProcessLookupError)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (OSError, OverflowError, ValueError):  # e.g. PermissionError: it exists, not ours
        return False
    return False


def _remove_stale_temps(folder, name):
    """Remove ``folder``'s temporaries of target ``name`` left by writer processes that are gone."""
    pattern = _stale_temp_pattern(name)
    try:
        entries = os.listdir(folder)
    except OSError:
        return  # the save itself reports an unusable folder
    for entry in entries:
        m = pattern.fullmatch(entry)
        if m is None or not _process_gone(int(m.group(1))):
            continue
        full = os.path.join(folder, entry)
        try:
            if os.path.isfile(full) and not os.path.islink(full):
                os.unlink(full)
        except OSError:
            pass


def _naming_target(exc, path):
    """``exc`` (an OSError) as the same type naming the target ``path``; ``exc`` itself when
    that is not possible (a subclass with another constructor)."""
    if type(exc).__module__ != "builtins":
        return exc
    try:
        if exc.errno is not None and exc.strerror:
            return type(exc)(exc.errno, f"cannot save: {exc.strerror}", path)
        return type(exc)(f"cannot save {path!r}: {exc}")
    except Exception:  # pragma: no cover - defensive
        return exc


def write_atomically(path, write):
    """Create or replace the file ``path`` with what ``write(temp_path)`` writes, atomically.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        The target.
    write : callable
        ``write(temp_path)`` writes the whole file at ``temp_path`` (an existing,
        empty file ``.<name>.<pid>.<random>.tmp`` in the target's folder) and closes it.

    Raises
    ------
    OSError
        The file cannot be written (missing folder, target is a directory, ...);
        an existing target is then unchanged.  The error is of the original type
        (``FileNotFoundError``, ``PermissionError``, ...) and names the target
        (its ``filename``); the original error is its ``__cause__``.  Whatever
        else ``write`` raises passes through, after the temporary file is removed.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    try:
        _write_atomically(path, write)
    except OSError as exc:
        new = _naming_target(exc, path)
        if new is exc:
            raise
        raise new from exc


def _write_atomically(path, write):
    if os.path.islink(path):
        path = os.path.realpath(path)  # replace the link's target, keep the link
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    if os.path.exists(path):
        mode = os.stat(path).st_mode & 0o7777
    else:
        mode = 0o666 & ~_umask()
    _remove_stale_temps(folder, name)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(name), suffix=".tmp", dir=folder)
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
