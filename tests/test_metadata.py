"""The emulated GCE metadata server, over real HTTP on loopback."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request

import pytest

from spotray._local._metadata import InstanceMetadata, MetadataServer

PREEMPTED = "/computeMetadata/v1/instance/preempted"


@pytest.fixture
def server():
    meta = InstanceMetadata(
        instance_id="1234",
        name="small-group-0001",
        zone="us-central1-a",
        machine_type="e2-standard-2",
        project="demo",
    )
    srv = MetadataServer(meta).start()
    yield srv
    srv.stop()


def get(server, path, *, header=True, timeout=10):
    request = urllib.request.Request(f"http://{server.host}{path}")
    if header:
        request.add_header("Metadata-Flavor", "Google")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, response.read().decode(), response.headers


def test_header_is_required(server):
    with pytest.raises(urllib.error.HTTPError) as err:
        get(server, PREEMPTED, header=False)
    assert err.value.code == 403


def test_false_until_notice_then_true(server):
    status, body, headers = get(server, PREEMPTED)
    assert (status, body, headers["Metadata-Flavor"]) == (200, "FALSE", "Google")
    server.meta.set_preempted()
    assert get(server, PREEMPTED)[1] == "TRUE"


def test_instance_facts(server):
    assert get(server, "/computeMetadata/v1/instance/name")[1] == "small-group-0001"
    assert get(server, "/computeMetadata/v1/instance/zone")[1].endswith("/zones/us-central1-a")
    with pytest.raises(urllib.error.HTTPError) as err:
        get(server, "/computeMetadata/v1/instance/nothing-here")
    assert err.value.code == 404


def test_long_poll_returns_on_change(server):
    threading.Timer(0.5, server.meta.set_preempted).start()
    start = time.monotonic()
    status, body, _ = get(server, PREEMPTED + "?wait_for_change=true&timeout_sec=20")
    elapsed = time.monotonic() - start
    assert (status, body) == (200, "TRUE")
    assert 0.4 < elapsed < 5


def test_long_poll_times_out_with_the_unchanged_value(server):
    start = time.monotonic()
    _, body, _ = get(server, PREEMPTED + "?wait_for_change=true&timeout_sec=1")
    assert body == "FALSE"
    assert 0.9 < time.monotonic() - start < 4


def test_last_etag_answers_at_once_when_the_value_already_changed(server):
    _, _, headers = get(server, PREEMPTED)
    server.meta.set_preempted()
    start = time.monotonic()
    _, body, _ = get(
        server, PREEMPTED + f"?wait_for_change=true&timeout_sec=20&last_etag={headers['ETag']}"
    )
    assert body == "TRUE" and time.monotonic() - start < 2


def test_root_answers_like_gce_for_client_library_pings_and_directories_list(server):
    status, _, headers = get(server, "/")
    assert status == 200 and headers["Metadata-Flavor"] == "Google"
    listing = get(server, "/computeMetadata/v1/instance/")[1].split()
    assert {"preempted", "name", "zone", "machine-type"} <= set(listing)


def test_stopping_the_server_releases_long_polls(server):
    result = {}

    def poll():
        try:
            result["body"] = get(server, PREEMPTED + "?wait_for_change=true&timeout_sec=60")[1]
        except OSError as exc:  # the connection may close instead
            result["body"] = str(exc)

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.3)
    start = time.monotonic()
    server.meta.close()
    thread.join(10)
    assert not thread.is_alive() and time.monotonic() - start < 5


@pytest.mark.parametrize("bad", ["nan", "-1", "inf", "abc", "1e999"])
def test_a_long_poll_with_a_bad_timeout_is_refused_at_once(server, bad):
    start = time.monotonic()
    with pytest.raises(urllib.error.HTTPError) as err:
        get(server, PREEMPTED + f"?wait_for_change=true&timeout_sec={bad}")
    assert err.value.code == 400 and "timeout_sec" in err.value.read().decode()
    assert time.monotonic() - start < 2
