"""Fetch the official Oxford-IIIT Pet archives: progress, checksum, resume, safe extraction.

Each archive is downloaded to `DEST/.downloads/<name>.part` (resumed with an HTTP Range request
when a partial file is there), verified against its MD5, and extracted only if every member
passes tarfile's `data` filter (no absolute paths, no `..`, no links leaving DEST), first into a
temporary folder inside DEST, then moved into place. Existing folders are never overwritten.
"""

from __future__ import annotations

import hashlib
import http.client
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from core.errors import PetSegError

BASE_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/"
CHUNK = 1 << 20


class DownloadError(PetSegError, RuntimeError):
    """A download or extraction that was refused or failed; nothing unsafe was written."""


@dataclass(frozen=True)
class Archive:
    name: str
    md5: str
    provides: str
    """Top-level folder the archive creates; its presence means the archive is already extracted."""


OFFICIAL_ARCHIVES = (
    Archive("images.tar.gz", "5c4f3ee8e5d25df40f4fd59a7f44e54c", "images"),
    Archive("annotations.tar.gz", "95a8c909bbe2e81eed6a22bccdf3f68f", "annotations"),
)


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(url: str, target: Path, stream: TextIO, timeout: float = 60.0) -> None:
    """Download `url` to `target`, resuming from its current size when the server supports ranges."""
    have = target.stat().st_size if target.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # already complete
            return
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}; check --base-url or try again later") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"{url}: cannot connect ({reason}); check your network or --base-url") from None
    with response:
        resumed = response.status == 206
        length = response.headers.get("Content-Length")
        total = (int(length) + (have if resumed else 0)) if length else None
        progress = tqdm(
            desc=target.name.removesuffix(".part"),
            total=total,
            initial=have if resumed else 0,
            file=stream,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            mininterval=0.5,
            dynamic_ncols=True,
            disable=None,
        )
        try:
            with open(target, "ab" if resumed else "wb") as out:
                for chunk in iter(lambda: response.read(CHUNK), b""):
                    out.write(chunk)
                    progress.update(len(chunk))
        except (OSError, http.client.HTTPException) as error:
            raise DownloadError(
                f"{url}: transfer interrupted ({error}); run the same command again to resume"
            ) from None
        finally:
            progress.close()
    if total is not None and target.stat().st_size < total:
        raise DownloadError(f"{url}: transfer ended early; run the same command again to resume")


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract `archive` into `dest` only if every member is safe; all or nothing."""
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
            try:
                for member in members:
                    try:
                        if member.name.startswith(("/", "\\")):  # the data filter would silently strip it
                            raise tarfile.AbsolutePathError(member)
                        tarfile.data_filter(member, str(staging))
                    except tarfile.FilterError as error:
                        raise DownloadError(
                            f"{archive.name}: refused unsafe member {member.name!r} ({error}); nothing extracted"
                        ) from None
                tar.extractall(staging, filter="data")
                for entry in staging.iterdir():
                    if (dest / entry.name).exists():
                        continue
                    entry.rename(dest / entry.name)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except (tarfile.TarError, EOFError, OSError) as error:
        raise DownloadError(f"{archive.name}: cannot extract ({error}); delete it and run again") from None


def download(
    dest: Path,
    base_url: str = BASE_URL,
    archives: tuple[Archive, ...] = OFFICIAL_ARCHIVES,
    stream: TextIO = sys.stderr,
    log: Callable[[str], None] = print,
) -> None:
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    cache = dest / ".downloads"
    cache.mkdir(exist_ok=True)
    for archive in archives:
        if (dest / archive.provides).exists():
            log(f"{archive.name}: {dest / archive.provides} already there, skipped")
            continue
        done, part = cache / archive.name, cache / f"{archive.name}.part"
        if not done.exists():
            fetch(base_url.rstrip("/") + "/" + archive.name, part, stream)
            checksum = md5_of(part)
            if checksum != archive.md5:
                part.unlink()
                raise DownloadError(
                    f"{archive.name}: checksum mismatch (expected MD5 {archive.md5}, got {checksum}); "
                    "the file was corrupted or the mirror serves another file. It was deleted; run again to retry"
                )
            part.rename(done)
        safe_extract(done, dest)
        done.unlink()
        log(f"{archive.name}: extracted into {dest}")
    shutil.rmtree(cache, ignore_errors=True)
