"""The log files: a value from a peer or a file cannot forge a line or ring the terminal's
bell, a traceback cannot pass for a record, and a flood is rotated away by size."""

import logging

from hds_core.text import LOG_BACKUPS, EscapedFormatter, RotatingLog


def _record(message, *args, exc_info=None, name="pynetdicom.acse"):
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, exc_info)


def test_control_bytes_from_outside_never_reach_the_log_raw():
    formatter = EscapedFormatter("%(levelname)s %(name)s: %(message)s")
    forged = "GOOD\r\n2026-12-07 10:00:00 INFO hds_core: study analysed\x1b[2J\x07\x00"
    line = formatter.format(_record("calling AE title %r", forged))
    assert "\n" not in line and "\r" not in line
    assert not any(ord(c) < 32 for c in line)
    assert "\\x1b" in line and "\\x07" in line


def test_a_traceback_is_indented_so_no_line_of_it_passes_for_a_record():
    formatter = EscapedFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        raise ValueError("name\n2026-12-07 10:00:00 INFO forged\x1b")
    except ValueError:
        import sys

        line = formatter.format(_record("failed", exc_info=sys.exc_info()))
    first, *rest = line.split("\n")
    assert rest and all(each.startswith("    | ") for each in rest)
    assert "\x1b" not in line


def test_the_log_is_rotated_by_size(tmp_path, monkeypatch):
    import hds_core.text as text

    monkeypatch.setattr(text, "LOG_MAX_BYTES", 2000)
    handler = RotatingLog(tmp_path / "hds-node.log")
    logger = logging.getLogger("test.rotation")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for i in range(2000):
            logger.warning("refused a connection from 127.0.0.1: %d", i)
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(tmp_path.iterdir())
    assert len(files) == LOG_BACKUPS + 1
    assert all(f.stat().st_size <= 2100 for f in files)


def test_a_long_message_is_cut_between_words_and_says_so():
    from hds_core.text import clipped

    text = "all plugins failed: (pylibjpeg: unpack requires a buffer of 4 bytes in struct format)"
    short = clipped(text, 40)
    assert short.endswith(" …") and len(short) <= 42
    assert text.startswith(short.removesuffix(" …")) and not short.removesuffix(" …").endswith(("(", ":"))
    assert clipped("short\nenough", 40) == "short enough"
