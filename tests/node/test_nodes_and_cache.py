"""The node book and the study cache, without a network."""

import json

import pytest

from hds_core.node import LocalNode, Node, NodeBook, NodeError, StudyCache, load_book, save_book


def test_a_node_is_named_inline_or_by_its_name_in_the_book(tmp_path):
    book = NodeBook().with_node(Node("pacs", "PACS", "10.0.0.5", 104))
    assert book.find("pacs").address == "PACS@10.0.0.5:104"
    inline = book.find("ORTHANC@127.0.0.1:4242")
    assert (inline.ae_title, inline.host, inline.port) == ("ORTHANC", "127.0.0.1", 4242)
    assert book.find("X@[::1]:104").host == "::1"
    with pytest.raises(NodeError, match="AET@host:port.*pacs"):
        book.find("nowhere")
    save_book(book, tmp_path / "nodes.json")
    assert load_book(tmp_path / "nodes.json") == book


@pytest.mark.parametrize("ae_title", ["", "A" * 17, "BACK\\SLASH", "TAB\tS"])
def test_an_ae_title_the_standard_does_not_allow_is_refused(ae_title):
    with pytest.raises(NodeError, match="AE title"):
        Node("x", ae_title, "host", 104)


@pytest.mark.parametrize("port", [0, 65536, "http"])
def test_a_port_out_of_range_is_refused(port):
    with pytest.raises(NodeError, match="port"):
        LocalNode(port=port)


def test_a_broken_node_book_is_named_with_the_fault(tmp_path):
    path = tmp_path / "nodes.json"
    assert load_book(path) == NodeBook()  # none yet: an empty book
    path.write_text("{not json")
    with pytest.raises(NodeError, match="nodes.json: not JSON"):
        load_book(path)
    path.write_text(json.dumps({"nodes": [{"name": "a", "ae_title": "A", "host": "h", "port": 99999}]}))
    with pytest.raises(NodeError, match="nodes.json: port 99999"):
        load_book(path)


def _add(arrival, sop: str, text: str = "data"):
    return arrival.add(sop, lambda path: open(path, "w").write(text))


def test_a_study_appears_in_the_cache_only_complete(tmp_path):
    cache = StudyCache(tmp_path)
    arrival = cache.arrival("1.2.3")
    _add(arrival, "1.2.3.1")
    assert cache.studies() == [] and cache.get("1.2.3") is None
    study = arrival.complete()
    assert study.instances == 1 and [s.uid for s in cache.studies()] == ["1.2.3"]


def test_more_instances_of_a_complete_study_make_a_new_version_with_all_of_them(tmp_path):
    cache = StudyCache(tmp_path)
    first = cache.arrival("1.2.3")
    _add(first, "1.2.3.1")
    old = first.complete()
    second = cache.arrival("1.2.3")
    _add(second, "1.2.3.2")
    new = second.complete()
    assert new.instances == 2 and new.completed > old.completed
    assert sorted(p.name for p in new.folder.glob("*.dcm")) == ["1.2.3.1.dcm", "1.2.3.2.dcm"]


def test_over_the_limit_the_oldest_studies_go_first(tmp_path):
    cache = StudyCache(tmp_path, limit_bytes=250)
    for n in range(4):
        arrival = cache.arrival(f"1.2.{n}")
        _add(arrival, f"1.2.{n}.1", "x" * 100)
        arrival.complete()
    assert [s.uid for s in cache.studies()] == ["1.2.2", "1.2.3"]


@pytest.mark.parametrize("uid", ["../x", "1.2/3", "1..2", "a.b", "1" * 65, ""])
def test_only_a_valid_uid_becomes_a_name(tmp_path, uid):
    cache = StudyCache(tmp_path)
    with pytest.raises(NodeError):
        cache.arrival(uid)
    with pytest.raises(NodeError):
        _add(cache.arrival("1.2"), uid)


def test_a_first_arrival_is_written_in_place_and_one_that_stopped_is_carried_on(tmp_path):
    cache = StudyCache(tmp_path)
    stopped = cache.arrival("1.2.3")
    _add(stopped, "1.2.3.1")
    stopped.discard()  # a cancelled retrieve: what arrived stays, unfinished
    assert cache.get("1.2.3") is None and cache.studies() == []
    assert (tmp_path / "1.2.3" / "1.2.3.1.dcm").exists()
    assert [a.uid for a in StudyCache(tmp_path).unfinished()] == ["1.2.3"]
    again = cache.arrival("1.2.3")
    assert again.folder == tmp_path / "1.2.3"
    _add(again, "1.2.3.2")
    assert again.complete().instances == 2
    assert StudyCache(tmp_path).unfinished() == []


def test_hds_node_keeps_the_node_book(tmp_path, capsys):
    from hds_core.commands import node as hds_node

    book = str(tmp_path / "nodes.json")
    assert hds_node.main(["--nodes", book, "nodes", "add", "pacs", "PACS@10.0.0.5:104", "--tls"]) == 0
    assert hds_node.main(["--nodes", book, "nodes", "add", "bad", "PACS@10.0.0.5:0"]) == hds_node.EXIT_NOTHING
    assert "port 0" in capsys.readouterr().err
    assert hds_node.main(["--nodes", book, "nodes", "list"]) == 0
    assert "pacs: PACS@10.0.0.5:104  TLS" in capsys.readouterr().out
    assert load_book(tmp_path / "nodes.json").find("pacs").tls
    assert hds_node.main(["--nodes", book, "nodes", "remove", "pacs"]) == 0
    assert load_book(tmp_path / "nodes.json").nodes == ()
    store = str(tmp_path / "store")
    code = hds_node.main(["--nodes", book, "listen", "--store", store, "--send-to", "X@127.0.0.1:104"])
    assert code == hds_node.EXIT_NOTHING and "--analyse" in capsys.readouterr().err
