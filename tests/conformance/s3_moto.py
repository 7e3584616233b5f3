"""moto's S3 server for the S3 tests (tests/s3.rs, stowage_tests::moto), filled with boto3.

usage: s3_moto.py serve
       s3_moto.py put ENDPOINT BUCKET [KEY=FILE ...]

serve runs moto's server on a free port of 127.0.0.1 (it says which on stderr) until its stdin
closes: the test that started it holds the other end, so the server ends with the test, even
one that is killed.

put creates BUCKET unless it exists, puts the bytes of each FILE as KEY, and prints a presigned
GET URL (SigV4, an hour) of each KEY, one a line, in order.

moto checks no signature and no expiry, so the bucket gets a policy that has it refuse what S3
refuses to the holder of a presigned GET URL:
- a HEAD (the signature covers the method; moto names a HEAD's action s3:HeadObject), and
- any GET of a key under refused/ (as S3 refuses a URL past its expiry: 403).
"""

import json
import os
import sys
import threading

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def policy(bucket):
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:HeadObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/refused/*",
            },
        ],
    }


def serve():
    def exit_when_stdin_closes():
        sys.stdin.buffer.read()
        os._exit(0)

    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    from moto.server import main

    main(["-H", "127.0.0.1", "-p", "0"])


def put(endpoint, bucket, pairs):
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="stowage",
        aws_secret_access_key="stowage",
        config=Config(signature_version="s3v4"),
    )
    try:
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy(bucket)))
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    for pair in pairs:
        # The file's path is the test's own (no '='); a key may hold any character.
        key, path = pair.rsplit("=", 1)
        with open(path, "rb") as f:
            s3.put_object(Bucket=bucket, Key=key, Body=f.read())
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600)
        print(url, flush=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve()
    elif sys.argv[1:2] == ["put"] and len(sys.argv) >= 4:
        put(sys.argv[2], sys.argv[3], sys.argv[4:])
    else:
        sys.exit(__doc__)
