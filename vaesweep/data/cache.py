"""Where fetched and prepared data sets live, and how a loader finds them.

The cache root is ``--cache-dir`` (commands), else ``$VAESWEEP_DATA``, else
``~/.cache/vaesweep``; each data set has its own directory ``<root>/<name>``. ``vaesweep data
fetch`` / ``prepare`` write that directory together with a ``MANIFEST.json`` listing every file's
size and SHA-256, so a loader can notice a truncated or replaced file before it parses it.
A loader whose ``data.path`` is empty reads the cache (``data_directory``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vaesweep.config import DataConfig
from vaesweep.errors import DataError

ENV_VAR = "VAESWEEP_DATA"
DEFAULT_ROOT = Path("~/.cache/vaesweep")
MANIFEST = "MANIFEST.json"
HASH_BLOCK = 1 << 20


def cache_root(override: str | Path | None = None) -> Path:
    """The cache root: ``override``, else ``$VAESWEEP_DATA``, else ``~/.cache/vaesweep``."""
    chosen = override or os.environ.get(ENV_VAR) or DEFAULT_ROOT
    return Path(chosen).expanduser()


def dataset_cache_dir(name: str, root: str | Path | None = None) -> Path:
    return cache_root(root) / name


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file, read in blocks (the data files are far larger than one read)."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path, info: dict[str, Any]) -> dict[str, Any]:
    """Record size and SHA-256 of every file in ``directory`` (plus ``info``) in MANIFEST.json."""
    files = {
        path.name: {"bytes": path.stat().st_size, "sha256": file_digest(path)}
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != MANIFEST
    }
    manifest = {**info, "files": files}
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def verify_manifest(directory: Path, full: bool = False) -> None:
    """Check the files against MANIFEST.json: sizes always, SHA-256 too when ``full``.

    A directory without a manifest (one the user filled by hand) is accepted as it is.
    """
    path = directory / MANIFEST
    if not path.is_file():
        return
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"{path}: unreadable manifest ({error})") from error
    for name, expected in files.items():
        target = directory / name
        if not target.is_file():
            raise DataError(f"{target}: missing (listed in {path}); fetch or prepare the data set again")
        size = target.stat().st_size
        if size != expected["bytes"]:
            raise DataError(
                f"{target}: {size} bytes, but {expected['bytes']} when it was written (see {path}); "
                "the file is truncated or was replaced: fetch or prepare the data set again"
            )
        if full and file_digest(target) != expected["sha256"]:
            raise DataError(f"{target}: SHA-256 differs from {path}; fetch or prepare the data set again")


def install(name: str, cache_dir: str | Path | None, build: Callable[[Path], dict]) -> tuple[Path, dict]:
    """Build entry ``name`` into a staging directory beside it (``build(staging) -> summary``),
    write its manifest, then swap it in: a failed or interrupted build leaves nothing behind."""
    root = cache_root(cache_dir)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        summary = build(staging)
        write_manifest(staging, {"dataset": name, **summary})
        final = root / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final, summary


def data_directory(config: DataConfig, expected: str) -> Path:
    """The directory a loader reads: ``data.path`` when set, else the data set's cache.

    ``expected`` describes the files, for the error when neither exists.
    """
    if config.path:
        directory = Path(config.path)
        if not directory.is_dir():
            raise DataError(f"{directory}: not a directory (expected one holding {expected})")
        return directory
    directory = dataset_cache_dir(config.name)
    if not directory.is_dir():
        raise DataError(
            f"data.path is empty and the cache has no {config.name} ({directory} does not exist): "
            f"run `vaesweep data fetch {config.name}` or `vaesweep data prepare {config.name} --from PATH`, "
            f"or set data.path to the directory holding {expected}"
        )
    verify_manifest(directory)
    return directory
