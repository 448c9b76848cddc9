"""A failed write (full disk, read-only folder) leaves the old file and no temporary file."""

import errno
import os

import pytest

from hds_core.safe_write import atomic_write, atomic_write_text


def test_failure_keeps_the_old_file_and_cleans_up(tmp_path):
    target = tmp_path / "result.json"
    atomic_write_text(target, "old")

    def disk_full(tmp):
        with open(tmp, "w") as handle:
            handle.write("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        atomic_write(target, disk_full)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]


def test_written_file_has_normal_permissions(tmp_path):
    target = tmp_path / "out" / "x.txt"
    atomic_write_text(target, "hello")
    umask = os.umask(0)
    os.umask(umask)
    assert target.read_text() == "hello" and (target.stat().st_mode & 0o777) == (0o666 & ~umask)
