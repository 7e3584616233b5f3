"""Read one object through the real AIStore Python SDK (2.0.0) and print its length and sha256.

Run by tests/conformance.rs against stowage's embedded cluster: with a read timeout shorter than
the cluster's cold GET, the SDK's own retry manager must time out, poll check-lock through its
LockPoller, and read the object once the write lock is released.

usage: aistore_cold_get.py URL BUCKET PROVIDER OBJECT
"""

import hashlib
import json
import sys

import urllib3
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from aistore.sdk import Client
from aistore.sdk.retry_config import NETWORK_RETRY_EXCEPTIONS, ColdGetConf, RetryConfig


def main() -> None:
    url, bucket, provider, obj = sys.argv[1:5]
    retry = RetryConfig(
        http_retry=urllib3.Retry(total=0, connect=0, read=0),
        # The reference's network retry, with a short fixed wait so the test is quick.
        network_retry=Retrying(
            wait=wait_fixed(0.1),
            stop=stop_after_attempt(4),
            retry=retry_if_exception_type(NETWORK_RETRY_EXCEPTIONS),
            reraise=True,
        ),
        cold_get_conf=ColdGetConf(max_cold_wait=30),
    )
    client = Client(url, timeout=(3.0, 0.5), retry_config=retry)
    data = client.bucket(bucket, provider=provider).object(obj).get_reader().read_all()
    print(json.dumps({"len": len(data), "sha256": hashlib.sha256(data).hexdigest()}))


if __name__ == "__main__":
    main()
