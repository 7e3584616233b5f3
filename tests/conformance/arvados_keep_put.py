"""Writes random blocks with the Arvados Python SDK's KeepClient (arvados-python-client 3.2.1).

Reads one JSON object on stdin:
  mode         "disk": the service list is given as the API server's keep_services().accessible()
               would list it (set on the client exactly as KeepClient.build_services_list stores
               it, since there is no API server here); "proxy": the roots are passed as the
               client's `proxy` setting (the ARVADOS_KEEP_SERVICES route), so the SDK names them
               00000-bi6l4-<index> and writes one PUT at a time.
  services     [{uuid, root, service_type, read_only}]
  token        the API token
  copies       copies wanted per block
  blocks       how many blocks, seed: their random contents (1 B .. 64 KiB each)
  num_retries  the SDK's retry passes
  size         optional fixed block size (for throughput runs)

Prints one JSON object: {"blocks": [{"hash", "locator", "error"}], "seconds": total put time,
"cpu_seconds": the CPU time (user + system, all threads of this process) spent in the puts}.
"""

import hashlib
import json
import random
import sys
import time

import arvados
import arvados.errors


def client(cfg):
    services = cfg["services"]
    if cfg["mode"] == "proxy":
        roots = " ".join(s["root"] for s in services)
        return arvados.KeepClient(api_token=cfg["token"], proxy=roots, num_retries=cfg["num_retries"])
    # No API server: build the client with a placeholder proxy, then set the service list the
    # way build_services_list() stores the answer of keep_services().accessible().
    kc = arvados.KeepClient(api_token=cfg["token"], proxy="http://unused.invalid/", num_retries=cfg["num_retries"])
    listed = [
        {
            "uuid": s["uuid"],
            "service_type": s["service_type"],
            "read_only": s["read_only"],
            "_service_root": s["root"],
        }
        for s in services
    ]
    kc._gateway_services = {s["uuid"]: s for s in listed}
    kc._keep_services = [s for s in listed if not s.get("service_type", "").startswith("gateway:")]
    kc._writable_services = [s for s in kc._keep_services if not s.get("read_only")]
    kc.max_replicas_per_service = None if kc._any_nondisk_services(kc._writable_services) else 1
    return kc


def main():
    cfg = json.load(sys.stdin)
    kc = client(cfg)
    rng = random.Random(cfg["seed"])
    out = []
    total = 0.0
    cpu = 0.0
    for _ in range(cfg["blocks"]):
        size = cfg.get("size") or rng.randint(1, 64 << 10)
        data = rng.randbytes(size)
        entry = {"hash": hashlib.md5(data).hexdigest(), "locator": None, "error": None}
        started, cpu_started = time.monotonic(), time.process_time()
        try:
            entry["locator"] = kc.put(data, copies=cfg["copies"])
        except arvados.errors.KeepWriteError as e:
            entry["error"] = str(e)
        total += time.monotonic() - started
        cpu += time.process_time() - cpu_started
        out.append(entry)
    json.dump({"blocks": out, "seconds": total, "cpu_seconds": cpu}, sys.stdout)


if __name__ == "__main__":
    main()
