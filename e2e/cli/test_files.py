"""Files from a terminal: `parley send ROOM --file PATH...` and `parley download FILE_ID`. Alice sends files while
she and Bob each follow the room from a different WS node; Bob saves them byte for byte; someone outside the room
cannot; a file over the cluster's limit (conftest's FILE_MAX_BYTES) is refused before a byte of it is sent."""

import json
import os
import struct
import zlib

from conftest import FILE_MAX_BYTES, new_user


def lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def png(width, height):
    """A real PNG: grey pixels, so that its magic bytes and its body agree."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes([128, 128, 128]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def write(folder, name, data):
    path = os.path.join(folder, name)
    with open(path, "wb") as file:
        file.write(data)
    return path


def follow_on_other_nodes(first, second, room):
    """`tail --json` of the room for each user, on two different WS nodes: the second tail is started again until
    the load balancer gives it the node the first does not have."""
    tail = first.start("tail", room, "--json")
    node = tail.stderr_until(lambda line: "on node" in line).split("on node ")[-1].strip()
    for _ in range(10):
        other = second.start("tail", room, "--json")
        if node not in other.stderr_until(lambda line: "on node" in line):
            return tail, other
        other.stop()
    tail.stop()
    raise AssertionError(f"every tail of {second.username} went to {node}")


def test_files_go_between_two_users_across_ws_nodes_byte_for_byte(pair, tmp_path):
    alice, bob, room = pair
    sent_folder, saved_folder = tmp_path / "sent", tmp_path / "saved"
    sent_folder.mkdir()
    saved_folder.mkdir()
    blob = os.urandom(300 * 1024)
    photo = png(64, 48)
    paths = [
        write(sent_folder, "archive.bin", blob),
        write(sent_folder, "photo", photo),
        # Named as a PNG, but not one: it goes as bytes, not as an image the server would refuse.
        write(sent_folder, "fake.png", b"not a picture"),
        write(sent_folder, "résumé 2024.txt", "Überall\n".encode()),
    ]
    tails = follow_on_other_nodes(alice, bob, room)
    try:
        arguments = [argument for path in paths for argument in ("--file", path)]
        message = json.loads(alice.ok("send", room, "the files", *arguments, "--json"))
        assert message["text"] == "the files"
        files = message["files"]
        assert [(f["name"], f["size"], f["contentType"]) for f in files] == [
            ("archive.bin", len(blob), "application/octet-stream"),
            ("photo", len(photo), "image/png"),
            ("fake.png", 13, "application/octet-stream"),
            ("résumé 2024.txt", len("Überall\n".encode()), "text/plain"),
        ]
        # Both followers, each on its own WS node, get the message with its files.
        for tail in tails:
            got = json.loads(tail.line(tail.stdout))
            assert got["seq"] == message["seq"] and got["files"] == files
    finally:
        for tail in tails:
            tail.stop()

    # Bob saves each under its own name, byte for byte.
    for file, path in zip(files, paths):
        saved = bob.ok("download", file["id"], "-o", str(saved_folder)).strip()
        assert saved == os.path.join(saved_folder, file["name"])
        with open(saved, "rb") as mine, open(path, "rb") as theirs:
            assert mine.read() == theirs.read()
    assert sorted(os.listdir(saved_folder)) == sorted(f["name"] for f in files)

    # What is there already stays, unless --force says otherwise; --json says what was saved.
    archive = files[0]["id"]
    again = bob.run("download", archive, "-o", str(saved_folder))
    assert again.returncode == 1 and "exists" in again.stderr, again.stderr
    named = str(saved_folder / "archive.bin")
    assert bob.run("download", archive, "-o", named).returncode == 1
    forced = json.loads(bob.ok("download", archive, "-o", named, "--force", "--json"))
    assert forced == {"id": archive, "name": "archive.bin", "path": named, "size": len(blob), "contentType": "application/octet-stream"}
    with open(named, "rb") as mine:
        assert mine.read() == blob
    assert not [name for name in os.listdir(saved_folder) if name.startswith(".")], "a temporary file was left behind"

    # A message of files alone; history shows each file's name and id.
    alone = json.loads(alice.ok("send", room, "--file", paths[1], "--json"))
    assert alone["text"] == "" and [f["name"] for f in alone["files"]] == ["photo"]
    history = bob.ok("history", room)
    assert files[0]["id"] in history and "archive.bin" in history and alone["files"][0]["id"] in history


def test_a_non_member_cannot_download(cluster, pair, tmp_path):
    alice, bob, room = pair
    path = write(tmp_path, "secret.bin", os.urandom(4096))
    file = json.loads(alice.ok("send", room, "--file", path, "--json"))["files"][0]
    carol = new_user(cluster, "carol")
    refused = carol.run("download", file["id"], "-o", str(tmp_path / "stolen.bin"))
    assert refused.returncode == 1 and "not_found" in refused.stderr, refused.stderr
    assert not os.path.exists(tmp_path / "stolen.bin")
    assert bob.ok("download", file["id"], "-o", str(tmp_path / "kept.bin")).strip() == str(tmp_path / "kept.bin")


def test_an_oversize_file_is_refused_before_any_byte_is_sent(cluster, pair, tmp_path):
    alice, bob, room = pair
    small = write(tmp_path, "small.bin", os.urandom(1024))
    big = write(tmp_path, "big.bin", os.urandom(FILE_MAX_BYTES + 1))
    before = lines(bob.ok("history", room, "--json"))
    # The small file comes first: every file is announced before any is uploaded, so not even it is sent.
    refused = alice.run("send", room, "too much", "--file", small, "--file", big)
    assert refused.returncode == 1 and "too_large" in refused.stderr, refused.stderr
    assert lines(bob.ok("history", room, "--json")) == before
    assert not os.path.exists(os.path.join(cluster.files, "files", room)), os.listdir(os.path.join(cluster.files, "files", room))

    usage = alice.run("send", room, *[argument for _ in range(11) for argument in ("--file", small)])
    assert usage.returncode == 2 and "at most 10" in usage.stderr, usage.stderr
    missing = alice.run("send", room, "--file", str(tmp_path / "nowhere.bin"))
    assert missing.returncode == 1 and "no such file" in missing.stderr, missing.stderr
