#!/usr/bin/env python3
"""HRW placement vectors computed by the real AIStore Python SDK.

Builds cluster maps shaped as aisnode serves them (GET /v1/daemon?what=smap), has the SDK's
model parse each (TypeAdapter(Smap).validate_json, as aistore.sdk.utils.decode_response does),
and records, for many objects in many buckets, the uname the SDK builds
(Bucket(...).object(name).uname) and, per map, the target its Smap.get_target_for_object(uname)
picks (null where it raises NoTargetError).
stowage-proto's tests/smap_vectors.rs checks that ours agrees on every one.

Regenerate (output is deterministic):

    /tmp/stowage-conformance-venv/bin/python crates/proto/tests/vectors/hrw_vectors.py \
        > crates/proto/tests/vectors/hrw.json

with a venv that has aistore==2.0.0 (pip install aistore==2.0.0).
"""

import json
import random
import string
import sys
from importlib.metadata import version

from pydantic import TypeAdapter

from aistore.sdk.bucket import Bucket
from aistore.sdk.errors import NoTargetError
from aistore.sdk.namespace import Namespace
from aistore.sdk.types import Smap
from aistore.sdk.utils import get_digest

MAINT = 1 << 2
DECOMM = 1 << 3
NON_ELECTABLE = 1 << 0
IC = 1 << 1
POST_REB = 1 << 4

rng = random.Random(20250611)


def daemon_id() -> str:
    """An id like aisnode generates (cos.GenDaemonID: 8 random letters)."""
    return "".join(rng.choice(string.ascii_letters) for _ in range(8))


def net(host: str, port: int) -> dict:
    return {"node_ip_addr": host, "daemon_port": str(port), "direct_url": f"http://{host}:{port}"}


def node(did: str, kind: str, i: int, flags: int = 0, digest=None) -> dict:
    """A node with every field aisnode emits, in its order (core/meta/smap.go: Snode)."""
    host = f"10.0.{0 if kind == 'proxy' else 1}.{i + 1}"
    port = 51080 if kind == "proxy" else 51081
    return {
        "public_net": net(host, port),
        "intra_data_net": net(host, port + 1000),
        "intra_control_net": net(host, port + 2000),
        "daemon_type": kind,
        "daemon_id": did,
        "flags": flags,
        "id_digest": get_digest(did) if digest is None else digest,
    }


def smap(targets: list, version: int = 7) -> dict:
    """A map in aisnode's field order (core/meta/smap.go: Smap); version as a string."""
    primary = node("pRoXyOnE", "proxy", 0, flags=IC)
    return {
        "pmap": {primary["daemon_id"]: primary, "pNonElec": node("pNonElec", "proxy", 1, flags=NON_ELECTABLE)},
        "proxy_si": primary,
        "tmap": {t["daemon_id"]: t for t in targets},
        "uuid": "Yx3kPq9Lm",
        "creation_time": "2025-06-11 09:14:02.731642853 +0000 UTC m=+0.019877034",
        "version": str(version),
    }


def targets(n: int, flags: dict = None) -> list:
    flags = flags or {}
    return [node(daemon_id(), "target", i, flags.get(i, 0)) for i in range(n)]


MAPS = [
    ("five active targets", smap(targets(5)), True),
    (
        "nine targets, some in maintenance or decommissioned, some with flags that do not count",
        smap(targets(9, {1: MAINT, 3: DECOMM, 4: MAINT | POST_REB, 6: POST_REB, 7: NON_ELECTABLE | IC})),
        True,
    ),
    ("sixteen targets", smap(targets(16), version=1234), True),
    ("one target", smap(targets(1)), True),
    ("every target in maintenance", smap(targets(3, {0: MAINT, 1: DECOMM, 2: MAINT | DECOMM})), True),
]


def odd_map() -> dict:
    """Hand-made edge cases the SDK resolves by map order and by the digests as given."""
    a, b = node("tieFirst", "target", 0, digest=42), node("tieSecnd", "target", 1, digest=42)
    zero = node("zeroDgst", "target", 2)
    del zero["id_digest"]  # the SDK (and we) then hash with digest 0
    keyed = node("realIdIs", "target", 3)
    m = smap([])
    m["tmap"] = {"tieFirst": a, "tieSecnd": b, "zeroDgst": zero, "mapKeyNotId": keyed}
    m["version"] = 3  # a number, which the SDK's model also takes
    return m


MAPS.append(("ties, a missing id_digest, a key that is not the id, a numeric version", odd_map(), False))

BUCKETS = [
    ("ais", None, "bck"),
    ("ais", Namespace(), "bck"),
    ("ais", Namespace(name="ns1"), "bck"),
    ("ais", Namespace(uuid="RemoteUUID"), "bck"),
    ("ais", Namespace(uuid="RemoteUUID", name="ns2"), "data-set_01"),
    ("aws", None, "my.s3.bucket"),
    ("s3", None, "my.s3.bucket"),
    ("gcp", None, "gcs-bucket"),
    ("gs", Namespace(name="n"), "gcs-bucket"),
    ("azure", None, "container"),
    ("oci", None, "oci-bucket"),
]

FIXED_NAMES = [
    "obj",
    "a/b/c.txt",
    "dir/",
    "/leading/slash",
    "/",
    "//double",
    "with space",
    "percent%20literal",
    "query?and#hash",
    "plus+sign&amp=1",
    "ünïcödé/日本語/😀",
    "tab\tand\nnewline",
    "x" * 300,
    "shard-000123.tar",
    ".hidden",
    "..",
    "a/../b",
]


def random_name() -> str:
    alphabet = string.ascii_letters + string.digits + "/-_.~ %?#+&=é中🚀"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))


def main() -> None:
    adapter = TypeAdapter(Smap)
    names = FIXED_NAMES + [random_name() for _ in range(40)]
    buckets = [Bucket(name, client=None, provider=provider, namespace=ns) for provider, ns, name in BUCKETS]
    unames = [[bucket.object(name).uname for name in names] for bucket in buckets]
    out = {
        "generator": "crates/proto/tests/vectors/hrw_vectors.py",
        "sdk": f"aistore {version('aistore')}",
        "buckets": [
            {
                "provider": provider,
                "namespace": None if ns is None else {"uuid": ns.uuid, "name": ns.name},
                "bucket": name,
            }
            for provider, ns, name in BUCKETS
        ],
        "objects": names,
        "unames": unames,
        "maps": [],
    }
    for title, raw, aisnode_shape in MAPS:
        parsed = adapter.validate_json(json.dumps(raw))
        owners = []
        for row in unames:
            owners.append([])
            for uname in row:
                try:
                    owners[-1].append(parsed.get_target_for_object(uname).daemon_id)
                except NoTargetError:
                    owners[-1].append(None)
        out["maps"].append({"title": title, "aisnode_shape": aisnode_shape, "smap": raw, "owners": owners})
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
