"""hds-node: the workstation as a DICOM node from the command line.

    hds-node echo NODE
    hds-node find NODE [--patient-id ID] [--modality MG] [--json]
    hds-node get NODE --study UID --to DIR [--move]
    hds-node listen --aet AET --port PORT --store DIR [--analyse] [--send-to NODE] [--allow AET ...]
    hds-node nodes [list | add NAME AET@host:port [--dicomweb URL] [--tls] | remove NAME]

NODE is ``AET@host:port`` or the name of a node in the node book (``hds-node nodes``, or the
viewer's DICOM nodes dialog: the same file). Exit status as hds-predict's:
  0  done
  1  done in part (some instances refused or failed, some studies not analysed or not sent)
  2  nothing done: the node does not answer, refuses us or fails; bad arguments
  3  internal error (a bug; the traceback is in the log file)"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from .run_log import say

EXIT_OK, EXIT_PARTIAL, EXIT_NOTHING, EXIT_FAILED = 0, 1, 2, 3
log = logging.getLogger("hds_core.commands.node")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hds-node", description="Find, retrieve and receive studies; send results back.")
    p.add_argument("--nodes", help="the node book (default: $HDS_NODES, else dicom-nodes.json in the user's settings)")
    p.add_argument("--aet", help="our AE title (default: the node book's, else HDS_MAMMO)")
    commands = p.add_subparsers(dest="command", required=True)

    echo = commands.add_parser("echo", help="C-ECHO: is the node there and does it accept us?")
    echo.add_argument("node", metavar="NODE")

    find = commands.add_parser("find", help="C-FIND: the node's studies (study level)")
    find.add_argument("node", metavar="NODE")
    find.add_argument("--patient-id", default="")
    find.add_argument("--patient-name", default="", help="wildcards * and ? allowed")
    find.add_argument("--date", default="", help="YYYYMMDD or a range YYYYMMDD-YYYYMMDD (either end may be left out)")
    find.add_argument("--accession", default="")
    find.add_argument("--modality", default="MG", help="modalities in the study (default MG; '' for any)")
    find.add_argument("--json", action="store_true", help="one JSON array of the studies on stdout")

    get = commands.add_parser("get", help="retrieve a study into a study cache folder")
    get.add_argument("node", metavar="NODE")
    get.add_argument("--study", required=True, metavar="UID", help="its Study Instance UID (from find)")
    get.add_argument("--to", required=True, metavar="DIR", help="the study cache; the study lands in DIR/UID/")
    get.add_argument(
        "--move", action="store_true", help="C-MOVE to our listener (the node must know us) instead of C-GET"
    )
    get.add_argument("--port", type=int, help="our port for --move (default: the node book's)")

    listen = commands.add_parser("listen", help="receive studies (C-STORE SCP); analyse and send results on request")
    listen.add_argument("--aet", dest="listen_aet", help="the AE title we answer to (default: --aet)")
    listen.add_argument("--port", type=int, help="default: the node book's, else 11112")
    listen.add_argument("--bind", help="the address to listen on (default: the node book's, else 127.0.0.1)")
    listen.add_argument("--store", required=True, metavar="DIR", help="the study cache to store into")
    listen.add_argument("--allow", nargs="+", metavar="AET", default=None, help="the calling AE titles accepted")
    listen.add_argument("--analyse", action="store_true", help="analyse each study once it has been quiet")
    listen.add_argument("--send-to", metavar="NODE", help="send each analysed study's SEG and SR to this node")
    listen.add_argument("--quiet", type=float, default=5.0, metavar="S", help="seconds without arrivals (default 5)")
    listen.add_argument("--max-association-mb", type=float, default=8192, help="what one association may store")
    listen.add_argument("--limit-gb", type=float, default=20, help="the cache's size; oldest studies go first")
    listen.add_argument("--tls-cert", help="PEM certificate: listen with TLS only")
    listen.add_argument("--tls-key", help="its PEM key")
    listen.add_argument("--weights", help="for --analyse (default: the shipped weights)")
    listen.add_argument("--device", default="auto")
    listen.add_argument("--threshold", type=float)

    nodes = commands.add_parser("nodes", help="list, add or remove nodes in the node book")
    actions = nodes.add_subparsers(dest="action")
    actions.add_parser("list")
    add = actions.add_parser("add")
    add.add_argument("name")
    add.add_argument("address", metavar="AET@host:port")
    add.add_argument("--dicomweb", default="", metavar="URL", help="its DICOMweb root: results go by STOW-RS")
    add.add_argument("--tls", action="store_true")
    add.add_argument("--tls-ca", default="")
    remove = actions.add_parser("remove")
    remove.add_argument("name")
    return p


def main(argv: list[str] | None = None) -> int:
    from ..text import EscapedFormatter
    from .run_log import setup_log

    args = parser().parse_args(argv)
    handler, log_path = setup_log("hds-node")
    root = logging.getLogger()
    terminal = logging.StreamHandler()
    terminal.setLevel(logging.INFO if args.command == "listen" else logging.WARNING)
    terminal.setFormatter(EscapedFormatter("hds-node: %(message)s"))
    terminal.addFilter(lambda record: record.name.startswith("hds_core"))
    added = [terminal] + ([handler] if handler is not None else [])
    for each in added:
        root.addHandler(each)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        return _run(args)
    except Exception:  # a bug must not look like a refusal: its own exit status, the traceback logged
        log.exception("internal error")
        say(
            "hds-node: internal error (a bug, please report it)"
            + (f"; the traceback is in {log_path}" if log_path else "")
        )
        return EXIT_FAILED
    finally:
        for each in added:
            root.removeHandler(each)
        root.setLevel(level)
        if handler is not None:
            handler.close()


def _run(args) -> int:
    from dataclasses import replace

    from ..node import NodeError, load_book

    try:
        book = load_book(Path(args.nodes) if args.nodes else None)
        if args.aet:
            book = replace(book, local=replace(book.local, ae_title=args.aet))
        if args.command == "nodes":
            return _nodes(args, book)
        if args.command == "listen":
            return _listen(args, book)
        node = book.find(args.node)
        if args.command == "echo":
            from ..node import echo

            echo(node, book.local)
            say(f"hds-node: {node} answers (C-ECHO success)")
            return EXIT_OK
        if args.command == "find":
            return _find(args, node, book.local)
        return _get(args, node, book.local)
    except NodeError as exc:
        say(f"hds-node: error: {exc}")
        return EXIT_NOTHING


def _find(args, node, local) -> int:
    from ..node import StudyQuery, find_studies

    query = StudyQuery(
        patient_id=args.patient_id,
        patient_name=args.patient_name,
        dates=args.date,
        accession_number=args.accession,
        modality=args.modality,
    )
    records = find_studies(node, local, query)
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "StudyInstanceUID": r.study_instance_uid,
                        "PatientID": r.patient_id,
                        "PatientName": r.patient_name,
                        "StudyDate": r.study_date,
                        "AccessionNumber": r.accession_number,
                        "ModalitiesInStudy": r.modalities,
                        "StudyDescription": r.description,
                        "NumberOfStudyRelatedInstances": r.instances,
                    }
                    for r in records
                ],
                indent=1,
            )
        )
    else:
        for r in records:
            print(
                f"{r.study_instance_uid}  {r.patient_id}  {r.study_date}  {r.modalities}  "
                f"{r.instances or '?'} instance(s)"
            )
    say(f"hds-node: {len(records)} stud{'y' if len(records) == 1 else 'ies'} on {node}")
    if records.truncated:
        say("hds-node: the node has more; narrow the search (patient, date, accession)")
        return EXIT_PARTIAL
    return EXIT_OK


def _get(args, node, local) -> int:
    from dataclasses import replace

    from ..node import StudyCache, retrieve

    if args.port:
        local = replace(local, port=args.port)
    cache = StudyCache(Path(args.to))
    shown = [0]

    def progress(done: int, total: int | None) -> None:
        if sys.stderr.isatty() or done == total:
            say(f"hds-node: {done}/{total or '?'} instance(s)")
        shown[0] = done

    result = retrieve(node, local, args.study, cache, method="move" if args.move else "get", progress=progress)
    if result.study is None:
        say(f"hds-node: error: {node} sent nothing for study {args.study}")
        return EXIT_NOTHING
    say(f"hds-node: study {result.study.uid}: {result.study.instances} instance(s) in {result.study.folder}")
    if result.failed or result.refused:
        say(
            f"hds-node: {result.failed} instance(s) failed at the node, {result.refused} refused by us "
            "(the log names them)"
        )
        return EXIT_PARTIAL
    return EXIT_OK


def _nodes(args, book) -> int:
    from ..node import Node, NodeError, save_book

    path = Path(args.nodes) if args.nodes else None
    if args.action in (None, "list"):
        print(f"us: {book.local.ae_title}, listening on {book.local.bind}:{book.local.port}")
        for node in book.nodes:
            extra = (f"  DICOMweb {node.dicomweb_url}" if node.dicomweb_url else "") + ("  TLS" if node.tls else "")
            print(f"{node.name}: {node.address}{extra}")
        return EXIT_OK
    if args.action == "remove":
        if args.name not in {n.name for n in book.nodes}:
            raise NodeError(f"no node {args.name!r} in the book", fix="see hds-node nodes list")
        say(f"hds-node: removed {args.name} from {save_book(book.without(args.name), path)}")
        return EXIT_OK
    parsed = book.find(args.address) if "@" in args.address else None
    if parsed is None:
        raise NodeError(f"{args.address!r} is not AET@host:port", fix="for example PACS@10.0.0.5:104")
    node = Node(
        name=args.name,
        ae_title=parsed.ae_title,
        host=parsed.host,
        port=parsed.port,
        dicomweb_url=args.dicomweb,
        tls=args.tls,
        tls_ca=args.tls_ca,
    )
    say(f"hds-node: {node} saved in {save_book(book.with_node(node), path)}")
    return EXIT_OK


def _listen(args, book) -> int:
    from dataclasses import replace

    from ..node import Listener, StudyCache
    from .unattended import StudyAnalyst

    local = replace(
        book.local,
        ae_title=args.listen_aet or book.local.ae_title,
        port=args.port or book.local.port,
        bind=args.bind or book.local.bind,
        tls_cert=args.tls_cert or book.local.tls_cert,
        tls_key=args.tls_key or book.local.tls_key,
    )
    allow = tuple(args.allow) if args.allow is not None else (*book.local.allow, *(n.ae_title for n in book.nodes))
    destination = book.find(args.send_to) if args.send_to else None
    if destination and not args.analyse:
        say("hds-node: error: --send-to sends the analysis' results: give --analyse too")
        return EXIT_NOTHING
    cache = StudyCache(Path(args.store), limit_bytes=int(args.limit_gb * 1e9))
    analyst = None
    if args.analyse:
        analyst = StudyAnalyst(
            cache, destination, local, weights=args.weights, device=args.device, threshold=args.threshold
        )
    listener = Listener(
        local,
        cache,
        allow=allow,
        on_study=analyst.analyse if analyst else None,
        quiet_s=args.quiet,
        max_association_bytes=int(args.max_association_mb * 1024 * 1024),
    )
    listener.start()
    if local.bind not in ("127.0.0.1", "::1", "localhost"):
        say(f"hds-node: listening on {local.bind}: reachable from other machines")
    say(
        f"hds-node: {local.ae_title} listening on {local.bind}:{listener.port}"
        + (" (TLS)" if local.tls_cert else "")
        + (f", accepting {', '.join(allow)}" if allow else ", accepting any calling AE title (give --allow)")
        + f"; studies into {cache.root}"
    )
    if analyst:
        analyst.catch_up()  # studies received before a restart and never analysed
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    say("hds-node: stopping (studies still arriving are kept and completed at the next start)")
    listener.stop()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
