"""The downloader against archives built here and served from 127.0.0.1 (with HTTP Range support)."""

import hashlib
import io
import tarfile
import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from core.cli import main
from core.data.download import Archive, DownloadError, download


def make_tar(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


class Handler(BaseHTTPRequestHandler):
    def __init__(self, files, log, *args, **kwargs):
        self.files, self.log = files, log
        super().__init__(*args, **kwargs)

    def cut_after(self) -> int | None:
        """Bytes after which the first full request is cut off (connection dropped), if set."""
        cut = self.files.get("__cut__")
        return int(cut) if cut and len(self.log) == 1 else None

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        self.log.append((name, self.headers.get("Range")))
        if name not in self.files:
            self.send_error(404)
            return
        payload = self.files[name]
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            if start >= len(payload):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(payload) - 1}/{len(payload)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(payload) - start))
        self.end_headers()
        cut = self.cut_after()
        self.wfile.write(payload[start : cut if cut else None])
        if cut:
            self.wfile.flush()
            self.close_connection = True


@pytest.fixture
def server():
    files: dict[str, bytes] = {}
    log: list = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(Handler, files, log))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/data/", files, log
    httpd.shutdown()


def archives_for(files: dict[str, bytes]) -> tuple[Archive, ...]:
    return tuple(Archive(name, hashlib.md5(files[name]).hexdigest(), name.split(".")[0]) for name in files)


def good_files() -> dict[str, bytes]:
    return {
        "images.tar.gz": make_tar({"images/cat_1.jpg": b"jpeg bytes", "images/dog_1.jpg": b"more"}),
        "annotations.tar.gz": make_tar({"annotations/trimaps/cat_1.png": b"png", "annotations/list.txt": b"#"}),
    }


def files_under(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file()}


def test_download_verifies_and_extracts_then_skips(server, tmp_path):
    url, files, log = server
    files.update(good_files())
    dest = tmp_path / "pets"
    download(dest, url, archives_for(files), log=lambda _: None)
    assert files_under(dest) == {
        "images/cat_1.jpg",
        "images/dog_1.jpg",
        "annotations/trimaps/cat_1.png",
        "annotations/list.txt",
    }
    requests = len(log)
    download(dest, url, archives_for(files), log=lambda _: None)
    assert len(log) == requests  # already there: nothing fetched again


def test_wrong_checksum_is_refused_and_nothing_extracted(server, tmp_path):
    url, files, _ = server
    files.update(good_files())
    wrong = tuple(Archive(a.name, "0" * 32, a.provides) for a in archives_for(files))
    with pytest.raises(DownloadError, match="checksum mismatch"):
        download(tmp_path / "pets", url, wrong, log=lambda _: None)
    assert files_under(tmp_path / "pets") == set()


@pytest.mark.parametrize(
    "members, links",
    [
        ({"images/ok.jpg": b"1", "../escaped.txt": b"evil"}, None),
        ({"/tmp/absolute_escape.txt": b"evil"}, None),
        ({"images/ok.jpg": b"1"}, {"images/link": "../../outside"}),
    ],
)
def test_unsafe_members_are_refused_and_nothing_written(server, tmp_path, members, links):
    url, files, _ = server
    files["images.tar.gz"] = make_tar(members, links)
    dest = tmp_path / "inner" / "pets"
    with pytest.raises(DownloadError, match="unsafe member"):
        download(dest, url, archives_for(files), log=lambda _: None)
    assert not (dest / "images").exists()
    assert files_under(tmp_path) <= {"inner/pets/.downloads/images.tar.gz"}
    assert not Path("/tmp/absolute_escape.txt").exists()


def test_interrupted_transfer_resumes_with_a_range_request(server, tmp_path):
    url, files, log = server
    files.update(good_files())
    dest = tmp_path / "pets"
    part = dest / ".downloads" / "images.tar.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(files["images.tar.gz"][:50])  # what an interrupted run left behind
    download(dest, url, archives_for(files), log=lambda _: None)
    assert ("images.tar.gz", "bytes=50-") in log
    assert (dest / "images" / "cat_1.jpg").read_bytes() == b"jpeg bytes"


def test_dropped_connection_then_rerun_resumes_where_it_stopped(server, tmp_path):
    url, files, log = server
    files.update(good_files())
    archives = archives_for(files)
    files["__cut__"] = b"100"
    dest = tmp_path / "pets"
    with pytest.raises(DownloadError, match="run the same command again to resume"):
        download(dest, url, archives, log=lambda _: None)
    assert (dest / ".downloads" / "images.tar.gz.part").stat().st_size == 100
    download(dest, url, archives, log=lambda _: None)
    assert ("images.tar.gz", "bytes=100-") in log
    assert (dest / "images" / "dog_1.jpg").read_bytes() == b"more"


def test_cli_download_errors_are_one_line(server, tmp_path, capsys):
    url, files, _ = server  # serves nothing: 404
    assert main(["download", "--dest", str(tmp_path / "d"), "--base-url", url]) == 2
    err = capsys.readouterr().err
    assert "HTTP 404" in err and "Traceback" not in err
