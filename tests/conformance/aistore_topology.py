"""Write and read objects through a proxy and straight from targets with the real AIStore
Python SDK (2.0.0), against stowage's embedded cluster deployed as a proxy and targets.

Run by tests/topology_conformance.rs. Talks one JSON line per phase on stdout; between the
second and the third it waits for a line on stdin (the name of an object whose target the
test put in maintenance meanwhile):

1. "proxy": `Client(proxy_url)`; `cluster().get_info()` (the SDK's Smap model parses our map);
   every object is written with `put_content`, read with `get_reader().read_all()` and HEADed,
   all through the proxy (requests follows each 307 itself). Prints the map as the SDK sees it
   and, per object, the target the SDK's own HRW picks (`Smap.get_target_for_object(uname)`).
2. "direct": every object is read with `get_reader(direct=True)`: from the target the SDK
   computes from the map, without the proxy.
3. "stale": the named object is read direct again with the map the SDK cached: its old
   target answers 404, the SDK asks that target for the map and reads the object from its new
   target. Prints the new map's version and owner.

usage: aistore_topology.py URL BUCKET PROVIDER OBJECT...
"""

import json
import sys

from aistore.sdk import Client


def content(name: str) -> bytes:
    """What the test expects each object to hold."""
    return (name + "\n").encode() * 1000


def say(line: dict) -> None:
    print(json.dumps(line), flush=True)


def main() -> None:
    url, bucket_name, provider, *names = sys.argv[1:]
    client = Client(url, timeout=(3.0, 10.0))
    smap = client.cluster().get_info()
    bucket = client.bucket(bucket_name, provider=provider)

    owners = {}
    for name in names:
        obj = bucket.object(name)
        obj.get_writer().put_content(content(name))
        got = obj.get_reader().read_all()
        assert got == content(name), f"{name}: read {len(got)} bytes through the proxy"
        size = obj.head().size
        assert size == len(content(name)), f"{name}: HEAD says {size}"
        owners[name] = smap.get_target_for_object(obj.uname).daemon_id
    say(
        {
            "phase": "proxy",
            "version": smap.version,
            "primary": smap.proxy_si.daemon_id,
            "primary_url": client.cluster().get_primary_url(),
            "targets": {tid: node.public_net.direct_url for tid, node in smap.tmap.items()},
            "owners": owners,
        }
    )

    for name in names:
        got = bucket.object(name).get_reader(direct=True).read_all()
        assert got == content(name), f"{name}: read {len(got)} bytes direct"
    say({"phase": "direct"})

    moved = sys.stdin.readline().strip()
    obj = bucket.object(moved)
    got = obj.get_reader(direct=True).read_all()
    assert got == content(moved), f"{moved}: read {len(got)} bytes after the map changed"
    # The object client asked its old target for the new map when it said 404; ask again.
    refreshed = client.cluster().get_info()
    say(
        {
            "phase": "stale",
            "version": refreshed.version,
            "owner": refreshed.get_target_for_object(obj.uname).daemon_id,
        }
    )


if __name__ == "__main__":
    main()
