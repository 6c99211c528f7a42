"""The files API over REST, on a folder the nodes share (`dir:`) and on moto's S3 server (`s3:`): announce, upload,
send with a message, see in history, download byte for byte across API nodes; and what must be refused: a non-member,
a forged or expired link, a file over the limit, a lying size or type, a file sent twice; and the bytes that must go:
a deleted message's, and an upload nobody sent."""

import os
import socket
import struct
import urllib.parse
import zlib

import pytest
import requests

from conftest import FILE_MAX_BYTES, UNSENT_TTL, error_code, fetch, put, upload_url, wait_for


def png(width, height):
    """A real PNG: grey pixels, so that its magic bytes and its body agree."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes([128, 128, 128]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def key(room, file):
    """Where Parley keeps a sent file's bytes, in the folder or the bucket."""
    return f"files/{room}/{file}"


def unsent_key(store, room, file):
    """Where a file's bytes are before it is sent: in place in the folder; in the bucket, where the presigned upload
    put them, until the send checks them and copies them to `key`."""
    return key(room, file) if store.kind == "dir" else f"uploads/{room}/{file}"


def uploaded(store, user, room, name, data, content_type, via=None):
    """A file announced and its bytes sent, as the announcement says: its announcement."""
    answer = user.announce(room, name, len(data), content_type, via=via)
    assert answer.status_code == 201, answer.text
    announced = answer.json()
    sent = put(store, announced, data, via=via)
    assert sent.status_code in (200, 204), f"{sent.status_code} {sent.text}"
    return announced


def sent_message(store, user, room, files, text=None, via=None):
    answer = user.send(room, [f["file"]["id"] for f in files], text=text, via=via)
    assert answer.status_code == 201, answer.text
    return answer.json()


def download(store, user, file, via_link=None, via_bytes=None):
    """GET /api/files/FILE through `via_link`, then its Location, without the Authorization header, through
    `via_bytes`: the bytes' answer."""
    link = user.link(file, via=via_link)
    assert link.status_code == 302, f"{link.status_code} {link.text}"
    fetched = fetch(store, link.headers["Location"], via=via_bytes)
    assert fetched.request.headers.get("Authorization") is None
    return fetched


# MARK: The whole flow


def test_a_file_goes_up_through_one_api_node_and_down_through_the_other_byte_for_byte(store, alice, bob, room):
    photo = png(64, 48)
    blob = os.urandom(600 * 1024)  # several chunks of the folder's 64 KiB reads
    before = store.blobs.keys()

    # Announced and uploaded through api-1, by itself.
    answers = [alice.announce(room, "photo.png", len(photo), "image/png", via="api-1"),
               alice.announce(room, "../../etc/archive.bin", len(blob), "application/octet-stream", via="api-1")]
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    image, archive = (a.json() for a in answers)
    assert image["file"]["name"] == "photo.png" and image["file"]["size"] == len(photo)
    assert image["file"]["contentType"] == "image/png"
    assert archive["file"]["name"] == "archive.bin", "the name keeps only its last path component"
    for announced in (image, archive):
        upload = announced["upload"]
        assert upload["method"] == "PUT" and upload["headers"].get("Content-Type") == announced["file"]["contentType"]
        assert upload["expiresAt"]
        if store.kind == "dir":
            # A path on Parley, resolved against the server's base; the link itself authorises the upload.
            assert upload["url"].startswith(f"/api/files/{announced['file']['id']}/content?action=put&")
        else:
            # Straight to the bucket, presigned, path-style.
            assert upload["url"].startswith(f"{store.blobs.endpoint}/parley-files/uploads/{room}/{announced['file']['id']}?")
            assert "X-Amz-Signature=" in upload["url"]
    for announced, data in ((image, photo), (archive, blob)):
        answer = put(store, announced, data, via="api-1")
        assert answer.status_code in (200, 204), answer.text
        if store.kind == "dir":
            assert answer.status_code == 204
            # A second upload of the same file is refused: its bytes are in.
            again = put(store, announced, data, via="api-2")
            assert again.status_code == 409, again.text

    # Sent through api-2, with text.
    message = sent_message(store, alice, room, [image, archive], text="the photo and the archive", via="api-2")
    assert message["text"] == "the photo and the archive"
    assert message["files"] == [image["file"], archive["file"]]

    # Bob sees the files in the room's history.
    [seen] = [m for m in bob.history(room) if m["seq"] == message["seq"]]
    assert seen["files"] == [image["file"], archive["file"]]

    # Bob's link from api-2, and for dir: the bytes through api-1; for s3: from the bucket.
    for announced, data, disposition in ((image, photo, "inline"), (archive, blob, "attachment")):
        link = bob.link(announced["file"]["id"], via="api-2")
        assert link.status_code == 302, link.text
        assert link.headers.get("Cache-Control") == "private, no-store"
        location = link.headers["Location"]
        if store.kind == "dir":
            assert location.startswith(f"/api/files/{announced['file']['id']}/content?action=get&")
        else:
            assert location.startswith(f"{store.blobs.endpoint}/parley-files/files/{room}/{announced['file']['id']}?")
        fetched = fetch(store, location, via="api-1")
        assert fetched.status_code == 200, fetched.text
        assert fetched.content == data
        assert fetched.headers["Content-Type"].split(";")[0] == announced["file"]["contentType"]
        assert fetched.headers["Content-Disposition"].startswith(disposition + "; "), fetched.headers
        if store.kind == "dir":
            assert fetched.headers["X-Content-Type-Options"] == "nosniff"
        # What the store holds is the same bytes, under Parley's own key, never the user's name.
        assert store.blobs.read(key(room, announced["file"]["id"])) == data

    # The store holds the two files and nothing else: no temporary file was left behind.
    assert store.blobs.keys() - before == {key(room, image["file"]["id"]), key(room, archive["file"]["id"])}


def test_a_message_may_carry_only_files(store, alice, bob, room):
    note = uploaded(store, alice, room, "notes.txt", "Überall\n".encode(), "text/plain")
    message = sent_message(store, alice, room, [note])
    assert message["text"] == "" and message["files"] == [note["file"]]
    [seen] = [m for m in bob.history(room) if m["seq"] == message["seq"]]
    assert seen["text"] == "" and seen["files"] == [note["file"]]
    fetched = download(store, bob, note["file"]["id"])
    assert fetched.status_code == 200 and fetched.content == "Überall\n".encode()


@pytest.mark.parametrize("store", ["dir"], indirect=True)
def test_downloaded_bytes_are_sandboxed(store, alice, bob, room):
    """Parley's own download route sets a policy of its own, which the SecurityHeaders middleware keeps."""
    page = b"<!doctype html><script>document.title = 'ran'</script>"
    announced = uploaded(store, alice, room, "page.html", page, "text/html")
    sent_message(store, alice, room, [announced])
    fetched = download(store, bob, announced["file"]["id"])
    assert fetched.content == page
    assert fetched.headers["Content-Disposition"].startswith("attachment; ")
    assert fetched.headers["Content-Security-Policy"] == "default-src 'none'; sandbox", fetched.headers["Content-Security-Policy"]


# MARK: Who may


def test_a_non_member_can_neither_fetch_nor_announce_nor_send_a_file(store, alice, bob, carol, room):
    secret = uploaded(store, alice, room, "secret.txt", b"for Bob only", "text/plain")
    sent_message(store, alice, room, [secret])
    link = carol.link(secret["file"]["id"])
    assert link.status_code == 404 and error_code(link) == "not_found", link.text
    # The same answer as for a file that does not exist.
    missing = carol.link("f_doesnotexist")
    assert missing.status_code == 404
    answer = carol.announce(room, "intrusion.txt", 10, "text/plain")
    assert answer.status_code == 404, answer.text
    # Not even in a room of her own may she send a file of theirs.
    own = carol.ok("POST", "rooms", {"name": "Carol's room"}, status=201)["room"]["id"]
    answer = carol.send(own, [secret["file"]["id"]])
    assert answer.status_code == 400 and error_code(answer) == "invalid_field", answer.text
    # Signed out, nobody gets a link.
    anonymous = requests.get(f"{store.base_url}/api/files/{secret['file']['id']}", allow_redirects=False, timeout=10)
    assert anonymous.status_code == 401, anonymous.text


def test_a_file_is_sent_once_by_its_uploader_to_its_room_once_its_bytes_are_in(store, alice, bob, carol, room):
    other = alice.contact(carol)
    once = uploaded(store, alice, room, "once.txt", b"once", "text/plain")
    # Bob cannot send Alice's file, nor Alice send it to another room.
    for user, where in ((bob, room), (alice, other)):
        answer = user.send(where, [once["file"]["id"]])
        assert answer.status_code == 400 and error_code(answer) == "invalid_field", answer.text
    sent_message(store, alice, room, [once])
    again = alice.send(room, [once["file"]["id"]])
    assert again.status_code == 400 and error_code(again) == "invalid_field", again.text
    # A file whose bytes never came cannot be sent.
    empty = alice.announce(room, "empty.txt", 5, "text/plain")
    assert empty.status_code == 201
    answer = alice.send(room, [empty.json()["file"]["id"]])
    assert answer.status_code == 400 and error_code(answer) == "invalid_field", answer.text
    # At most 10 files to a message.
    many = [uploaded(store, alice, room, f"{n}.txt", b"%d" % n, "text/plain") for n in range(11)]
    answer = alice.send(room, [f["file"]["id"] for f in many])
    assert answer.status_code == 400, answer.text
    sent_message(store, alice, room, many[:10])


# MARK: Links


@pytest.mark.parametrize("store", ["dir"], indirect=True)
def test_a_forged_or_expired_link_is_refused(store, alice, bob, room):
    data = b"kept behind signed links"
    announced = alice.announce(room, "links.txt", len(data), "text/plain").json()
    url = upload_url(store, announced)

    def changed(url, **fields):
        parts = urllib.parse.urlsplit(url)
        query = dict(urllib.parse.parse_qsl(parts.query))
        query.update(fields)
        query = {k: v for k, v in query.items() if v is not None}
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    def refused(method, url, data=None):
        answer = requests.request(method, url, data=data, headers={"Content-Type": "text/plain"}, timeout=10)
        assert answer.status_code == 403 and error_code(answer) == "forbidden", f"{method} {url}: {answer.status_code} {answer.text}"

    # An upload link whose expiry is moved into the past (or further on), or whose signature is changed or gone.
    refused("PUT", changed(url, expires="1000000000"), data)
    refused("PUT", changed(url, expires=str(int(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["expires"]) + 3600)), data)
    signature = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))["signature"]
    refused("PUT", changed(url, signature=("0" if signature[0] != "0" else "1") + signature[1:]), data)
    refused("PUT", changed(url, signature=None), data)
    # The upload link is not a download link.
    refused("GET", changed(url, action="get"))
    # Another file's id under this file's signature.
    other = alice.announce(room, "other.txt", len(data), "text/plain").json()
    refused("PUT", url.replace(announced["file"]["id"], other["file"]["id"]), data)
    assert store.blobs.head(unsent_key(store, room, announced["file"]["id"])) is None

    # The true link still works, and then a download link forged the same ways is refused.
    assert requests.put(url, data=data, headers={"Content-Type": "text/plain"}, timeout=10).status_code == 204
    sent_message(store, alice, room, [announced])
    location = urllib.parse.urljoin(store.base_url + "/", bob.link(announced["file"]["id"]).headers["Location"])
    assert requests.get(location, timeout=10).content == data
    refused("GET", changed(location, expires="1000000000"))
    refused("GET", changed(location, signature="ab" * 32))
    refused("PUT", changed(location, action="put"), data)


# MARK: What is refused, with nothing kept


def test_a_file_over_the_limit_is_refused_before_any_byte_is_stored(store, alice, room):
    before = store.blobs.keys()
    answer = alice.announce(room, "huge.bin", FILE_MAX_BYTES + 1, "application/octet-stream")
    assert answer.status_code == 413 and error_code(answer) == "too_large", answer.text
    assert store.blobs.keys() <= before
    # A file of exactly the limit is taken, and its bytes go in.
    data = os.urandom(FILE_MAX_BYTES)
    at_limit = uploaded(store, alice, room, "at-limit.bin", data, "application/octet-stream")
    sent_message(store, alice, room, [at_limit])
    assert store.blobs.head(key(room, at_limit["file"]["id"])) == FILE_MAX_BYTES


@pytest.mark.parametrize("store", ["dir"], indirect=True)
def test_an_upload_over_the_limit_is_refused_by_its_length_alone(store, alice, room):
    """Parley's own upload route looks at Content-Length before it reads the body."""
    announced = alice.announce(room, "small.bin", 10, "application/octet-stream").json()
    host, port, path = raw_target(store, announced, "api-1")
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(
            f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {FILE_MAX_BYTES * 100}\r\n\r\n".encode())
        status = read_status(connection)
    assert status == 413
    assert store.blobs.head(unsent_key(store, room, announced["file"]["id"])) is None


def raw_target(store, announced, via):
    url = urllib.parse.urlsplit(upload_url(store, announced, via))
    return url.hostname, url.port, url.path + "?" + url.query


def read_status(connection):
    """The status code of the answer on a raw connection, or None when the connection closed without one."""
    head = b""
    while b"\r\n" not in head:
        try:
            chunk = connection.recv(4096)
        except (ConnectionResetError, socket.timeout):
            return None
        if not chunk:
            return None
        head += chunk
    return int(head.split(b" ", 2)[1])


def no_trace_of(store, room, file):
    """Neither the file nor a temporary file of it is left in the store."""
    return not any(file in k for k in store.blobs.keys())


def test_a_lying_size_is_refused_with_nothing_kept(store, alice, room):
    data = os.urandom(200 * 1024)
    announced = alice.announce(room, "short.bin", len(data), "application/octet-stream").json()
    file = announced["file"]["id"]
    if store.kind == "dir":
        # An honest Content-Length that is not what was announced: refused before a byte is read.
        short = put(store, announced, data[:-1])
        assert short.status_code == 400 and error_code(short) == "invalid_field", short.text
        # A Content-Length that says the announced size, and a body that stops short: the node keeps nothing.
        host, port, path = raw_target(store, announced, "api-1")
        with socket.create_connection((host, port), timeout=10) as connection:
            connection.sendall(
                f"PUT {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {len(data)}\r\n\r\n".encode() + data[: len(data) // 2])
            connection.shutdown(socket.SHUT_WR)
            status = read_status(connection)
        assert status is None or status >= 400, status
        wait_for(lambda: no_trace_of(store, room, file), 10, "the half-sent upload's temporary file going")
        # Nothing was kept or marked as in: the true bytes may still come.
        assert alice.send(room, [file]).status_code == 400
        assert put(store, announced, data).status_code == 204
        sent_message(store, alice, room, [announced])
        assert store.blobs.read(key(room, file)) == data
    else:
        # The bucket takes what the presigned PUT brings; Parley checks it when the file is sent.
        for body in (data[:-1], data + b"!"):
            assert put(store, announced, body).status_code == 200
            assert store.blobs.head(unsent_key(store, room, file)) == len(body)
            answer = alice.send(room, [file])
            assert answer.status_code == 400 and error_code(answer) == "invalid_field", answer.text
            assert store.blobs.head(unsent_key(store, room, file)) is None, "the lying bytes were left in the bucket"
        # The true bytes may still come, and then the file goes.
        assert put(store, announced, data).status_code == 200
        sent_message(store, alice, room, [announced])
        assert store.blobs.read(key(room, file)) == data


def test_a_lying_type_is_refused_with_nothing_kept(store, alice, room):
    fake = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>"
    announced = alice.announce(room, "cat.png", len(fake), "image/png").json()
    file = announced["file"]["id"]
    if store.kind == "dir":
        answer = put(store, announced, fake)
        assert answer.status_code == 400 and error_code(answer) == "invalid_field", answer.text
        assert no_trace_of(store, room, file)
        # The declared type is held to the header too.
        photo = png(8, 8)
        other = alice.announce(room, "real.png", len(photo), "image/png").json()
        answer = put(store, other, photo, headers={"Content-Type": "image/gif"})
        assert answer.status_code == 400 and error_code(answer) == "invalid_field", answer.text
        assert no_trace_of(store, room, other["file"]["id"])
    else:
        assert put(store, announced, fake).status_code == 200
        assert store.blobs.head(unsent_key(store, room, file)) == len(fake)
        # A type with no magic bytes to check is held to the Content-Type the bucket kept: the signed link refuses
        # another on a real bucket, and Parley refuses it when the file is sent, on one that does not check.
        text = b"plain words"
        other = alice.announce(room, "notes.txt", len(text), "text/plain").json()
        assert put(store, other, text, headers={"Content-Type": "text/html"}).status_code == 200
        answer = alice.send(room, [other["file"]["id"]])
        assert answer.status_code == 400 and error_code(answer) == "invalid_field", answer.text
        assert store.blobs.head(unsent_key(store, room, other["file"]["id"])) is None
    # Either way it cannot be sent, and nothing of it is left.
    answer = alice.send(room, [file])
    assert answer.status_code == 400 and error_code(answer) == "invalid_field", answer.text
    assert store.blobs.head(unsent_key(store, room, file)) is None
    assert no_trace_of(store, room, file)


@pytest.mark.parametrize("store", ["s3"], indirect=True)
def test_a_sent_file_cannot_be_replaced_through_its_upload_link(store, alice, bob, room):
    photo = png(16, 16)
    announced = uploaded(store, alice, room, "cat.png", photo, "image/png")
    sent_message(store, alice, room, [announced])
    replaced = put(store, announced, b"<html>not a cat</html>" * 1000)
    fetched = download(store, bob, announced["file"]["id"])
    assert replaced.status_code >= 400 or fetched.content == photo, \
        f"the bucket took the new bytes ({replaced.status_code}) and Bob downloads {len(fetched.content)} bytes, not the PNG"


# MARK: Bytes that go


def test_deleting_a_message_removes_its_files_bytes(store, alice, bob, room):
    photo = png(32, 32)
    announced = uploaded(store, alice, room, "gone.png", photo, "image/png")
    file = announced["file"]["id"]
    message = sent_message(store, alice, room, [announced], text="soon gone")
    old = bob.link(file)
    assert old.status_code == 302 and fetch(store, old.headers["Location"]).content == photo
    assert store.blobs.head(key(room, file)) == len(photo)

    deleted = alice.ok("DELETE", f"rooms/{room}/messages/{message['seq']}")
    assert deleted["text"] is None and deleted.get("deletedAt")
    assert store.blobs.head(key(room, file)) is None
    assert no_trace_of(store, room, file)
    for user in (alice, bob):
        link = user.link(file)
        assert link.status_code == 404, link.text
    [seen] = [m for m in bob.history(room) if m["seq"] == message["seq"]]
    assert seen["text"] is None and not seen.get("files"), seen
    # A link handed out before is dead too (moto, like S3 to a reader who may not list the bucket, answers 403).
    after = fetch(store, old.headers["Location"])
    assert after.status_code in ((404,) if store.kind == "dir" else (403, 404)), after.status_code


def test_a_file_uploaded_and_never_sent_is_swept_with_its_bytes(store, alice, room):
    announced = uploaded(store, alice, room, "orphan.bin", os.urandom(4096), "application/octet-stream")
    file = announced["file"]["id"]
    never = alice.announce(room, "never-uploaded.bin", 10, "application/octet-stream").json()["file"]["id"]
    assert store.blobs.head(unsent_key(store, room, file)) == 4096
    # Swept once it is UNSENT_TTL seconds old; the API nodes sweep every second.
    wait_for(lambda: store.blobs.head(unsent_key(store, room, file)) is None, UNSENT_TTL + 10, "the unsent file's bytes being swept")
    assert no_trace_of(store, room, file)
    for swept in (file, never):
        wait_for(lambda: alice.link(swept).status_code == 404, 5, f"{swept} being forgotten")
        answer = alice.send(room, [swept])
        assert answer.status_code == 400, answer.text


def test_avatars_are_taken_by_their_bytes_up_to_1_mib(store, alice, bob):
    """PNG, JPEG and WebP are told by their first bytes, whatever the request calls them; a picture over 1 MiB is
    refused by its Content-Length, and nothing of it is kept."""
    pictures = {
        ("png", "png"): png(4, 4),
        ("jpg", "jpeg"): b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(64),
        ("webp", "webp"): b"RIFF\x24\x00\x00\x00WEBPVP8 " + os.urandom(32),
    }
    for (extension, kind), picture in pictures.items():
        answer = alice.call("PUT", "me/avatar", data=picture, headers={"Content-Type": "application/octet-stream"})
        assert answer.status_code == 200, answer.text
        avatar = answer.json()["avatar"]
        assert avatar.endswith(f".{extension}"), avatar
        served = requests.get(store.base_url + avatar, timeout=10)
        assert served.status_code == 200 and served.headers["Content-Type"] == f"image/{kind}", served.headers
        assert served.content == picture
    # Bob sees it in the user objects of their room.
    members = bob.ok("GET", f"rooms/{alice.contact(bob)}")["members"]
    assert {m["user"]["id"]: m["user"].get("avatar") for m in members} == {alice.id: avatar, bob.id: None}

    before = set(store.blobs.keys())
    too_big = png(4, 4) + b"\0" * (1 << 20)
    answer = alice.call("PUT", "me/avatar", data=too_big, headers={"Content-Type": "image/png"})
    assert answer.status_code == 413 and error_code(answer) == "too_large", answer.text
    assert set(store.blobs.keys()) == before
    assert alice.ok("GET", "me")["avatar"] == avatar
