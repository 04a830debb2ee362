"""Publish builds into a shared directory, and follow one: how a build reaches every replica in seconds.

The builder (``kb worker --publish DIR``) copies each new build into the
published dir; every replica (``kb serve`` with ``KB_INDEX_FOLLOW=DIR``) polls
it and imports what changed into its own index dir, then switches ``current``
exactly as a local build does, under the same lock: the old build serves
until the switch. Layout of a published dir::

    LATEST                        {"build": "<id>"}: the build to serve, replaced atomically
    builds/<id>/                  the build's files, and checksums.json (SHA-256 of every other file)
    .lock                         held by the one publisher writing

Only what changed travels: the publisher hard-links files whose checksum is
the previous published build's, and a follower hard-links (or copies) the
files its live build already has with the same checksum, copying and
verifying only the others. An edit of one article changes a few files (the
chunk table, the vectors, a keyword segment); the others stay where they are.

A follower trusts nothing it reads there, as an import trusts nothing in a
tarball: names must be plain relative paths, files must be regular files
(no links followed), each checksum must match what it copied, the manifest
must be of this code's schema. Unlike an import it does not fill the vector
cache: a replica that follows never builds.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

from .build import _cleanup, _Lock
from .layout import BuildLayout, IndexLayout
from .shipping import MAX_FILE_BYTES, MAX_MEMBERS, MAX_TOTAL_BYTES, ShippingError, checked_manifest

CHECKSUMS = "checksums.json"
KEEP_PUBLISHED = 3  # a follower may still be copying the one before the latest
_BUILD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_BLOCK = 1 << 20


@dataclass(frozen=True)
class FollowReport:
    build_dir: Path
    copied: int  # files copied from the published dir (new or changed)
    linked: int  # files taken from the live build (unchanged)
    bytes_copied: int


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()


def _files(build: BuildLayout) -> list[Path]:
    """A build's files, without the checksum record a follower keeps beside them."""
    return sorted(p for p in build.dir.rglob("*")
                  if p.is_file() and not p.is_symlink() and p != build.dir / CHECKSUMS)


def latest(publish_dir: Path) -> str | None:
    """The id of the build the published dir says to serve, or None (nothing published, or unreadable)."""
    try:
        build = json.loads((Path(publish_dir) / "LATEST").read_text(encoding="utf-8"))["build"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return build if isinstance(build, str) and _BUILD_ID.match(build) else None


def _read_sums(path: Path) -> dict[str, str]:
    """A checksum record, checked: plain relative names (no '..', no absolute), SHA-256 values."""
    try:
        sums = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ShippingError(f"{path}: not a checksum record ({exc})") from None
    if not isinstance(sums, dict) or len(sums) > MAX_MEMBERS:
        raise ShippingError(f"{path}: not a mapping of at most {MAX_MEMBERS} files to SHA-256")
    for name, value in sums.items():
        parts = name.split("/") if isinstance(name, str) else []
        if (not parts or any(p in ("", ".", "..") for p in parts) or "\\" in name or "\x00" in name
                or name == CHECKSUMS or not isinstance(value, str) or not _SHA256.match(value)):
            raise ShippingError(f"{path}: refused entry {name!r}")
    if "manifest.json" not in sums:
        raise ShippingError(f"{path}: lists no manifest.json")
    return sums


def _link(src: Path, dest: Path) -> bool:
    """Hard-link ``src`` as ``dest``; False when it cannot be (gone, another file system, links refused)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        return False
    return True


def publish_build(index_dir: Path, publish_dir: Path) -> str | None:
    """Publish the live build of ``index_dir`` into ``publish_dir``; its id, or None when it already is."""
    build = IndexLayout(Path(index_dir)).current()
    if build is None:
        raise ShippingError(f"no finished build in {index_dir}: nothing to publish")
    root = Path(publish_dir)
    (root / "builds").mkdir(parents=True, exist_ok=True)
    build_id = build.dir.name
    with _Lock(root / ".lock"):
        previous = latest(root)
        if previous == build_id and (root / "builds" / build_id / CHECKSUMS).is_file():
            return None
        try:
            old = _read_sums(root / "builds" / previous / CHECKSUMS) if previous else {}
        except ShippingError:
            old = {}
        for stale in root.glob("builds/.incoming-*"):  # a publisher killed midway
            shutil.rmtree(stale, ignore_errors=True)
        incoming = root / "builds" / f".incoming-{build_id}-{uuid.uuid4().hex[:6]}"
        sums = {}
        for p in _files(build):
            rel = p.relative_to(build.dir).as_posix()
            sums[rel] = _sha256(p)
            same = old.get(rel) == sums[rel]
            (incoming / rel).parent.mkdir(parents=True, exist_ok=True)
            if not (same and _link(root / "builds" / str(previous) / rel, incoming / rel)):
                shutil.copyfile(p, incoming / rel)
        (incoming / CHECKSUMS).write_text(json.dumps(sums, indent=1), encoding="utf-8")
        final = root / "builds" / build_id
        shutil.rmtree(final, ignore_errors=True)
        os.replace(incoming, final)
        tmp = root / f".LATEST-{uuid.uuid4().hex[:8]}"
        tmp.write_text(json.dumps({"build": build_id}), encoding="utf-8")
        os.replace(tmp, root / "LATEST")  # the one step that makes followers take it
        _prune_published(root, build_id)
    return build_id


def _prune_published(root: Path, keep: str) -> None:
    dirs = sorted((p for p in (root / "builds").iterdir() if p.is_dir() and not p.name.startswith(".")),
                  key=lambda p: p.stat().st_mtime, reverse=True)
    for p in dirs[KEEP_PUBLISHED:]:
        if p.name != keep:
            shutil.rmtree(p, ignore_errors=True)


def _copy_verified(src: Path, dest: Path, expected: str) -> int:
    """Copy one published file (a regular file, no link followed), checking its SHA-256; returns its size."""
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise ShippingError(f"{src}: cannot be read as a plain file ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            raise ShippingError(f"{src}: not a regular file of at most {MAX_FILE_BYTES} bytes")
        dest.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        with dest.open("xb") as out:
            while block := f.read(_BLOCK):
                h.update(block)
                out.write(block)
    if h.hexdigest() != expected:
        raise ShippingError(f"{src}: checksum mismatch (changed while copied, or altered)")
    return info.st_size


def _fill(source: Path, sums: dict[str, str], have: BuildLayout | None, build: BuildLayout) -> FollowReport:
    """Write every listed file into ``build`` (the manifest last, under another name until checked)."""
    try:
        local = _read_sums(have.dir / CHECKSUMS) if have is not None else {}
    except ShippingError:
        local = {}
    real_source = source.resolve()
    copied = linked = size = 0
    for rel in sorted(sums, key=lambda r: r == "manifest.json"):
        dest = build.dir / ("manifest.json.incoming" if rel == "manifest.json" else rel)
        src = source / rel
        if not src.resolve().is_relative_to(real_source):  # a directory link leading out of the build
            raise ShippingError(f"{rel}: outside the published build")
        if have is not None and local.get(rel) == sums[rel] and rel != "manifest.json" and _link(have.dir / rel, dest):
            linked += 1
        else:  # new or changed, or the live build's copy cannot be linked: from the published dir, checked
            size += _copy_verified(src, dest, sums[rel])
            copied += 1
        if size > MAX_TOTAL_BYTES:
            raise ShippingError(f"more than {MAX_TOTAL_BYTES} bytes to copy")
    incoming = checked_manifest(build)
    (build.dir / CHECKSUMS).write_text(json.dumps(sums), encoding="utf-8")  # what the next follow compares with
    incoming.replace(build.manifest)
    return FollowReport(build.dir, copied, linked, size)


def follow_once(publish_dir: Path, index_dir: Path) -> FollowReport | None:
    """Make the published dir's latest build the live build of ``index_dir``; None when it already is
    (or nothing is published yet)."""
    build_id = latest(Path(publish_dir))
    layout = IndexLayout(Path(index_dir))
    current = layout.current()
    if build_id is None or (current is not None and current.dir.name == build_id):
        return None
    source = Path(publish_dir) / "builds" / build_id
    layout.root.mkdir(parents=True, exist_ok=True)
    with _Lock(layout.lock):
        current = layout.current()
        if current is not None and current.dir.name == build_id:  # another follower of this dir was first
            return None
        sums = _read_sums(source / CHECKSUMS)
        build = BuildLayout(layout.builds / build_id)
        shutil.rmtree(build.dir, ignore_errors=True)  # an earlier attempt that did not finish
        build.dir.mkdir(parents=True)
        try:
            report = _fill(source, sums, current, build)
            layout.switch(build)
        except BaseException:
            shutil.rmtree(build.dir, ignore_errors=True)
            raise
        _cleanup(layout, build)
    return report
