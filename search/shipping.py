"""Ship a finished build to other hosts: export it as a tarball, import one as a new build.

An exported tarball holds one build dir's files under ``build/`` and a
``build/checksums.json`` (SHA-256 of every other file). Import treats the
tarball as untrusted: only regular files and directories with plain relative
names are accepted (no absolute paths, no ``..``, no links, devices or fifos,
no duplicates, bounded sizes), every checksum must match, and the manifest
must be of this code's schema. The files are written into a new build dir,
the manifest last (a build dir without one is unfinished), and ``current`` is
switched exactly as a local build switches it, under the same lock, so a
server keeps answering from the old build until it sees the new one.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from .bridge import Bridge
from .build import _cleanup, _Lock
from .documents import Chunk
from .layout import SCHEMA_VERSION, BuildLayout, IndexLayout, Manifest
from .vector_cache import VectorCache
from .vectors import VectorIndex

PREFIX = "build"
CHECKSUMS = "checksums.json"
MAX_MEMBERS = 10_000
MAX_FILE_BYTES = 4 << 30  # one file (a faiss index of a large corpus is the biggest)
MAX_TOTAL_BYTES = 16 << 30  # the whole unpacked build
_CHUNK = 1 << 20
# What a truncated or corrupted (compressed) tarball raises while being read.
_DAMAGED = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile)


class ShippingError(ValueError):
    """A tarball that cannot be exported or imported (the message says why)."""


@dataclass(frozen=True)
class ImportReport:
    build_dir: Path
    files: int
    bytes: int
    built_at: str
    cached: int = 0  # vectors put into the local vector cache from the build


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def export_build(index_dir: Path, out: Path) -> Path:
    """Write the live build of ``index_dir`` to the tarball ``out`` (gzip); returns the build dir exported."""
    build = IndexLayout(Path(index_dir)).current()
    if build is None:
        raise ShippingError(f"no finished build in {index_dir}: run `kb index` first")
    # A followed build keeps its checksum record (search/publish.py) beside its files: made anew here.
    files = sorted(p for p in build.dir.rglob("*") if p.is_file() and not p.is_symlink() and p != build.dir / CHECKSUMS)
    sums = {p.relative_to(build.dir).as_posix(): _sha256(p) for p in files}
    tmp = out.with_name(out.name + ".tmp")
    # Level 1: the vectors (most of the bytes) hardly compress, and level 9 took seconds more for 2% less.
    with tarfile.open(tmp, "w:gz", format=tarfile.PAX_FORMAT, compresslevel=1) as tar:
        data = json.dumps(sums, indent=1).encode()
        info = tarfile.TarInfo(f"{PREFIX}/{CHECKSUMS}")
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
        for p in files:
            # Plain members only: no owner names, no modes beyond rw-r--r--.
            info = tarfile.TarInfo(f"{PREFIX}/{p.relative_to(build.dir).as_posix()}")
            info.size, info.mode, info.mtime = p.stat().st_size, 0o644, int(p.stat().st_mtime)
            with p.open("rb") as f:
                tar.addfile(info, f)
    tmp.replace(out)
    return build.dir


def _member_path(member: tarfile.TarInfo) -> PurePosixPath:
    """The path of a member inside the build dir, or ShippingError when the member is unsafe."""
    name = member.name
    if not (member.isfile() or member.isdir()):
        raise ShippingError(f"{name!r}: only regular files and directories may be imported (links and devices are refused)")
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("/") or "\\" in name or "\x00" in name:
        raise ShippingError(f"{name!r}: absolute or malformed path")
    if any(part in ("..", "") for part in name.rstrip("/").split("/")):
        raise ShippingError(f"{name!r}: '..' or empty path component")
    if path.parts[0] != PREFIX:
        raise ShippingError(f"{name!r}: outside {PREFIX}/")
    if member.isfile() and member.size > MAX_FILE_BYTES:
        raise ShippingError(f"{name!r}: {member.size} bytes, more than {MAX_FILE_BYTES}")
    return PurePosixPath(*path.parts[1:])


def _checked_members(tar: tarfile.TarFile) -> dict[PurePosixPath, tarfile.TarInfo]:
    """Every file member by its path in the build; the whole listing is checked before anything is written."""
    members = tar.getmembers()
    if len(members) > MAX_MEMBERS:
        raise ShippingError(f"{len(members)} members, more than {MAX_MEMBERS}")
    files: dict[PurePosixPath, tarfile.TarInfo] = {}
    for m in members:
        rel = _member_path(m)
        if m.isdir():
            continue
        if rel in files or not rel.parts:
            raise ShippingError(f"{m.name!r}: duplicate or empty member")
        files[rel] = m
    if sum(m.size for m in files.values()) > MAX_TOTAL_BYTES:
        raise ShippingError(f"more than {MAX_TOTAL_BYTES} bytes unpacked")
    for needed in (CHECKSUMS, "manifest.json"):
        if PurePosixPath(needed) not in files:
            raise ShippingError(f"not an exported kb build: {PREFIX}/{needed} is missing")
    return files


def _read_checksums(tar: tarfile.TarFile, member: tarfile.TarInfo) -> dict[str, str]:
    try:
        sums = json.loads(tar.extractfile(member).read(1 << 22))  # type: ignore[union-attr]
    except ValueError:
        raise ShippingError(f"{PREFIX}/{CHECKSUMS} is not JSON") from None
    if not isinstance(sums, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in sums.items()):
        raise ShippingError(f"{PREFIX}/{CHECKSUMS} is not a mapping of file to SHA-256")
    return sums


def _write_member(tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path) -> str:
    """Copy one member's bytes to ``dest`` (a plain new file); returns their SHA-256."""
    h = hashlib.sha256()
    dest.parent.mkdir(parents=True, exist_ok=True)
    src = tar.extractfile(member)
    assert src is not None  # a regular file, checked
    with dest.open("xb") as out:
        while block := src.read(_CHUNK):
            h.update(block)
            out.write(block)
    return h.hexdigest()


def _unpack(tar: tarfile.TarFile, files: dict[PurePosixPath, tarfile.TarInfo], build: BuildLayout) -> int:
    """Write every file (the manifest last), verifying each checksum; returns the bytes written."""
    sums = _read_checksums(tar, files.pop(PurePosixPath(CHECKSUMS)))
    if set(sums) != {p.as_posix() for p in files}:
        raise ShippingError("the checksums do not list exactly the files in the tarball")
    manifest = PurePosixPath("manifest.json")
    for rel in sorted(files, key=lambda p: p == manifest):
        dest = build.dir.joinpath(*rel.parts)
        if dest == build.manifest:
            dest = build.dir / "manifest.json.incoming"  # checked before it makes the build finished
        if _write_member(tar, files[rel], dest) != sums[rel.as_posix()]:
            raise ShippingError(f"{rel}: checksum mismatch (damaged or altered tarball)")
    checked_manifest(build).replace(build.manifest)
    return sum(m.size for m in files.values())


def checked_manifest(build: BuildLayout) -> Path:
    """The build's incoming manifest, once it reads and has this kb's schema (else ShippingError)."""
    incoming = build.dir / "manifest.json.incoming"
    try:
        manifest = Manifest.read(incoming)
    except (ValueError, TypeError, KeyError) as exc:
        raise ShippingError(f"the manifest cannot be read: {exc}") from None
    if manifest.schema != SCHEMA_VERSION:
        raise ShippingError(f"index schema {manifest.schema}; this kb reads schema {SCHEMA_VERSION}")
    return incoming


def _seed_cache(build: BuildLayout, layout: IndexLayout) -> int:
    """Put the build's vectors into this index's vector cache, keyed as a local build keys them.

    Without them a later local build here (``kb serve --watch``, ``kb index``) would embed every
    chunk again, since the tarball carries the vectors but not the cache they came from.
    """
    manifest = Manifest.read(build.manifest)
    table = json.loads(build.chunks.read_text(encoding="utf-8"))
    cache = VectorCache(layout.vector_cache)
    try:
        count = 0
        for model in manifest.models:
            if not build.vectors(model.name).exists():
                continue
            index = VectorIndex.load(build.vectors(model.name)).index
            vectors = index.reconstruct_n(0, index.ntotal)
            positions = np.load(build.positions(model.name), allow_pickle=False)
            items = {VectorCache.key(Chunk(**table[int(p)]).embedding_text()): v
                     for p, v in zip(positions, vectors, strict=True)}
            cache.put_many(model.name, items)
            count += len(items)
        bridge = Bridge.load(build)
        if bridge is not None and manifest.bridge_model:
            cache.put_many(manifest.bridge_model,
                           {VectorCache.key(t): v for t, v in zip(bridge.terms, bridge.vectors, strict=True)})
            count += len(bridge.terms)
        return count
    finally:
        cache.close()


def import_build(tarball: Path, index_dir: Path) -> ImportReport:
    """Verify ``tarball``, unpack it into a new build dir of ``index_dir`` and make it the live build."""
    layout = IndexLayout(Path(index_dir))
    layout.root.mkdir(parents=True, exist_ok=True)
    try:
        tar = tarfile.open(tarball, "r:*")
    except (*_DAMAGED, OSError) as exc:
        raise ShippingError(f"{tarball}: not a readable tarball ({exc})") from None
    with tar, _Lock(layout.lock):
        try:
            files = _checked_members(tar)
            build = layout.new_build()
        except _DAMAGED as exc:
            raise ShippingError(f"{tarball}: damaged tarball ({exc})") from None
        try:
            size = _unpack(tar, files, build)
            try:
                cached = _seed_cache(build, layout)
            except Exception:  # noqa: BLE001 - only a speed-up; a build whose files do not fit gives none
                cached = 0
            layout.switch(build)
        except _DAMAGED as exc:
            shutil.rmtree(build.dir, ignore_errors=True)
            raise ShippingError(f"{tarball}: damaged tarball ({exc})") from None
        except BaseException:
            shutil.rmtree(build.dir, ignore_errors=True)
            raise
        _cleanup(layout, build)
    manifest = Manifest.read(build.manifest)
    return ImportReport(build.dir, len(files), size, manifest.built_at, cached)
