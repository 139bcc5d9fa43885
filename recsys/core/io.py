"""Atomic output: every file is written to a temporary sibling and renamed into place.

An interrupted run therefore leaves either the complete previous file or nothing, never a
half-written one. Files and folders get the permissions the umask gives (a temporary file is
created private, so it is opened up before the rename). A missing parent folder of an output
file is created when the file is written, as ``--out`` creates its folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from recsys.core.errors import InputError


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets under the current umask (0644 under 0022)."""
    return 0o666 & ~_umask()


def dir_mode() -> int:
    """The mode a new folder gets under the current umask (0755 under 0022)."""
    return 0o777 & ~_umask()


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early, before any work, if ``path`` cannot be written: it is a folder, or its
    nearest existing ancestor is not a writable folder. Creates nothing."""
    path = Path(path)
    if path.is_dir():
        raise InputError(f"cannot write {path}: it is a directory")
    parent = path.parent if str(path.parent) else Path(".")
    ancestor = parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"cannot write {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK):
        raise InputError(f"cannot write {path}: directory {ancestor} is not writable")
    return path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success only.
    A missing parent folder is created (with the umask's permissions)."""
    path = check_writable(path)
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, file_mode())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _clean_nans(obj: Any) -> Any:
    """JSON has no NaN: write null instead."""
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean_nans(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean_nans(v) for v in obj]
    return obj


def write_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_clean_nans(obj), indent=2, default=_json_default) + "\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_table(path: str | os.PathLike, df: pd.DataFrame) -> None:
    """Write a DataFrame as Parquet or CSV, chosen by the file's suffix."""
    suffix = Path(path).suffix.lower()
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        elif suffix in (".parquet", ".pq"):
            df.to_parquet(tmp, index=False)
        else:
            raise InputError(f"cannot write {path}: use a .parquet or .csv file name")


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a Parquet or CSV table; a missing or unreadable file is an InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"file not found: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        if suffix in (".csv", ".txt"):
            return pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file
        raise InputError(f"cannot read {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    raise InputError(f"cannot read {path}: expected a .parquet or .csv file")


def prepare_out_dir(path: str | os.PathLike, *, exist_ok: bool = False) -> Path:
    """Create an output directory; refuse to reuse an existing non-empty one unless allowed."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise InputError(f"--out {path} exists and is not a directory")
        if any(path.iterdir()) and not exist_ok:
            raise InputError(f"--out {path} already exists and is not empty (choose a new directory)")
    else:
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise InputError(f"--out {path}: parent directory {parent} does not exist")
        if not os.access(parent, os.W_OK):
            raise InputError(f"--out {path}: parent directory {parent} is not writable")
    if not os.access(path if path.exists() else path.parent or Path("."), os.W_OK):
        raise InputError(f"--out {path} is not writable")
    return path


@contextmanager
def atomic_dir(path: str | os.PathLike, *, exist_ok: bool = False) -> Iterator[Path]:
    """Yield a temporary directory that is renamed to ``path`` only when the block succeeds.

    With ``exist_ok`` an existing directory is kept and the files are moved into it one by one
    (each move is atomic); otherwise an existing non-empty ``path`` is an InputError.
    """
    path = prepare_out_dir(path, exist_ok=exist_ok)
    parent = path.parent if str(path.parent) else Path(".")
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
        os.chmod(tmp, dir_mode())
        if path.exists() and not any(path.iterdir()):
            path.rmdir()
        if not path.exists():
            os.replace(tmp, path)
        else:
            for item in tmp.iterdir():
                os.replace(item, path / item.name)
    finally:
        if tmp.exists():
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
