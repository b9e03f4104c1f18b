"""Downloading a file from a list of mirrors into a cache directory, checksum verified
before the file is renamed into place, so a failed or corrupt download leaves nothing behind.

The fetcher is a plain function ``fetch(url, handle)`` that writes the body at ``url`` to
``handle`` and raises ``OSError`` when it cannot; pass another one to test without network.
"""

import hashlib
import http.client
import logging
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from framework.core.errors import FileFormatError
from framework.core.npz import atomic_write

log = logging.getLogger(__name__)

Fetch = Callable[[str, BinaryIO], None]
DATA_DIR_ENV = "FRAMEWORK_DATA_DIR"
DEFAULT_DATA_ROOT = Path("~/.cache/framework/datasets")
TIMEOUT_SECONDS = 60.0


def urllib_fetch(url: str, handle: BinaryIO) -> None:
    """Write the body at ``url`` to ``handle`` with ``urllib`` (the default fetcher)."""
    with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
        shutil.copyfileobj(response, handle, 1 << 20)


def data_directory(dataset: str, cache_dir=None) -> Path:
    """``<root>/<dataset>`` where root is ``cache_dir``, else ``$FRAMEWORK_DATA_DIR``, else ``~/.cache/framework/datasets``."""
    root = cache_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_ROOT
    return Path(root).expanduser() / dataset


def file_md5(path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_md5(path, expected: str, *, fix: str) -> None:
    """Raise ``FileFormatError`` naming ``path`` when its MD5 is not ``expected``."""
    actual = file_md5(path)
    if actual != expected:
        raise FileFormatError(f"{path}: MD5 checksum {actual} does not match the official {expected}; {fix}")


def download_file(filename: str, directory, md5: str, mirrors, fetch: Fetch = urllib_fetch) -> Path:
    """Fetch ``filename`` from the first mirror that serves it with MD5 ``md5`` into ``directory``.

    Raises ``ConnectionError`` naming the first URL tried, how many other mirrors failed and why.
    """
    destination = Path(directory) / filename
    urls = [mirror.rstrip("/") + "/" + filename for mirror in mirrors]
    reasons = []
    for url in urls:
        log.debug("downloading %s", url)
        try:
            atomic_write(destination, lambda handle, url=url: _fetch_verified(fetch, url, handle, md5))
        except (OSError, http.client.HTTPException, ValueError) as exc:
            reasons.append(_reason(exc))
            continue
        return destination
    if not urls:
        raise ConnectionError(f"could not download {filename}: no mirrors given")
    others = f" (nor from {len(urls) - 1} other mirror{'s' if len(urls) > 2 else ''})" if len(urls) > 1 else ""
    raise ConnectionError(f"could not download {urls[0]}{others}: {'; '.join(dict.fromkeys(reasons))}")


def _reason(error: Exception) -> str:
    """Why a download failed, in a few words (urllib's "<urlopen error ...>" unwrapped)."""
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        return str(error.reason)
    return str(error) or type(error).__name__


class _HashingWriter:
    """Passes writes through to ``handle`` and hashes them on the way."""

    def __init__(self, handle: BinaryIO):
        self.handle = handle
        self.digest = hashlib.md5(usedforsecurity=False)

    def write(self, data) -> int:
        self.digest.update(data)
        return self.handle.write(data)


def _fetch_verified(fetch: Fetch, url: str, handle: BinaryIO, md5: str) -> None:
    writer = _HashingWriter(handle)
    fetch(url, writer)
    if writer.digest.hexdigest() != md5:
        raise FileFormatError(f"the body has MD5 {writer.digest.hexdigest()}, not the official {md5}")
