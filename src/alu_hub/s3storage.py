"""Renditions and thumbnails in an S3-compatible store (``ALU_HUB_STORAGE=s3://bucket/prefix``).

* **Writing.** ``put_file``/``copy_file`` use boto3's managed transfer: one PUT for a small
  file, a multipart upload (parts of ``ALU_HUB_S3_PART_SIZE``, a few at a time) for a large one.
  S3 makes an object visible only when its PUT or its multipart completion succeeds, so a key
  is never half there; after the upload its size is checked with a HEAD, and only then does
  publishing commit the item (``publish.py``), so the feed never names an object that is not
  whole. An upload that fails is aborted by boto3 (no parts left behind by us).
* **Reading.** The hub never sends the bytes: after its usual token (or signed link) check it
  answers ``307`` to a presigned URL that lives ``ALU_HUB_S3_URL_TTL`` seconds (a HEAD gets a
  URL signed for HEAD). The URL carries the download name and type (``response-content-*``).
  Keys are immutable (a new item id for every publish), so the object's ETag (S3's, not the
  hub's sha256 tag) never changes under a client resuming with ``If-Range``, and a store that
  ignores ``If-Range`` does no harm. URLs are signed for ``ALU_HUB_S3_PUBLIC_ENDPOINT`` when set
  (the address clients reach, if the hub talks to the store by another one).
* **Credentials** come from boto3's usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
  ``AWS_PROFILE``, the shared files, an instance role); they are never logged.
* **Start-up recovery** lists ``items/`` with a delimiter (one call per 1000 items) and removes
  the objects of item ids the database does not know, but only when the newest of them is older
  than ``ALU_HUB_S3_ORPHAN_GRACE`` seconds: replicas share the bucket, and another replica may
  be between storing an item's files and committing it.
"""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from boto3.exceptions import S3UploadFailedError
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from .files import content_disposition
from .settings import Settings, SettingsError
from .storage import ITEMS, StorageError

log = logging.getLogger(__name__)

#: S3's smallest part (but the last) and its most parts per upload.
MIN_PART = 5 * 1024 * 1024
MAX_PARTS = 10_000
#: Keys the hub makes: path segments of safe characters, no empty or dot-only segment.
_KEY = re.compile(r"[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*")
#: (boto3's managed upload wraps the errors of a failed PUT in S3UploadFailedError)
_S3_ERRORS = (BotoCoreError, ClientError, S3UploadFailedError)


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` → ``("bucket", "some/prefix")``; ValueError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
    bucket = parts.netloc
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise ValueError(f"not a valid S3 bucket name: {bucket!r}")
    prefix = parts.path.strip("/")
    if prefix and (not _KEY.fullmatch(prefix) or any(s in (".", "..") for s in prefix.split("/"))):
        raise ValueError(f"the S3 prefix may use letters, digits and . _ - / only: {prefix!r}")
    return bucket, prefix


def _config(path_style: bool) -> Config:
    extra: dict[str, Any] = {}
    if "request_checksum_calculation" in Config.OPTION_DEFAULTS:
        # botocore >= 1.36 adds CRC checksums to every upload by default, which some
        # S3-compatible stores refuse; send them only where the API requires one.
        extra = {
            "request_checksum_calculation": "when_required",
            "response_checksum_validation": "when_required",
        }
    return Config(
        signature_version="s3v4",
        s3={"addressing_style": "path" if path_style else "auto"},
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        **extra,
    )


class S3Storage:
    """The hub's files in ``bucket`` under ``prefix`` (see the module docstring)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint: str = "",
        public_endpoint: str = "",
        region: str = "",
        url_ttl_s: int = 600,
        part_size: int = 16 * 1024 * 1024,
        orphan_grace_s: int = 24 * 3600,
    ) -> None:
        # SettingsError: refused at start, in one line (``alu-hub``)
        if url_ttl_s < 1 or url_ttl_s > 7 * 24 * 3600:
            raise SettingsError(
                f"ALU_HUB_S3_URL_TTL must be between 1 s and 7 days, not {url_ttl_s}."
            )
        if part_size < MIN_PART:
            raise SettingsError(
                f"ALU_HUB_S3_PART_SIZE must be at least {MIN_PART} bytes, not {part_size}."
            )
        self.bucket = bucket
        self.endpoint = endpoint
        self.prefix = prefix.strip("/")
        self.url_ttl_s = url_ttl_s
        self.orphan_grace_s = orphan_grace_s
        session = boto3.session.Session()
        self.region = region or session.region_name or "us-east-1"
        try:
            self.client: Any = session.client(
                "s3",
                endpoint_url=endpoint or None,
                region_name=self.region,
                config=_config(path_style=bool(endpoint)),
            )
        except ValueError as e:  # botocore: "Invalid endpoint: …"
            raise SettingsError(f"ALU_HUB_S3_ENDPOINT: {e}.") from None
        #: for ``check`` at start-up: an answer in seconds, not after five tries
        self._checker: Any = session.client(
            "s3",
            endpoint_url=endpoint or None,
            region_name=self.region,
            config=_config(path_style=bool(endpoint)).merge(
                Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5)
            ),
        )
        signing = public_endpoint or endpoint
        # presigning is local (no request): a second client only names another address
        self.signer: Any = (
            self.client
            if signing == endpoint
            else session.client(
                "s3",
                endpoint_url=signing or None,
                region_name=self.region,
                config=_config(path_style=bool(signing)),
            )
        )
        self.part_size = part_size
        self.transfer = TransferConfig(
            multipart_threshold=part_size, multipart_chunksize=part_size, max_concurrency=4
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        try:
            bucket, prefix = parse_s3_url(settings.storage_url)
        except ValueError as e:
            raise SettingsError(f"ALU_HUB_STORAGE: {e}.") from None
        return cls(
            bucket,
            prefix,
            endpoint=settings.s3_endpoint,
            public_endpoint=settings.s3_public_endpoint,
            region=settings.s3_region,
            url_ttl_s=settings.s3_url_ttl_s,
            part_size=settings.s3_part_size,
            orphan_grace_s=settings.s3_orphan_grace_s,
        )

    def __repr__(self) -> str:
        return f"S3Storage(s3://{self.bucket}/{self.prefix})"

    def object_key(self, key: str) -> str:
        """The object's key in the bucket for the hub's ``key``."""
        if not _KEY.fullmatch(key) or any(s in (".", "..") for s in key.split("/")):
            raise ValueError(f"not a storage key the hub makes: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def check(self) -> None:
        """The bucket is there and may be used (see ``Storage.check``): without it every
        upload would fail, each long after the start."""
        where = self.endpoint or f"AWS ({self.region})"
        try:
            self._checker.head_bucket(Bucket=self.bucket)
        except ClientError as e:
            code = str(e.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchBucket"):
                raise StorageError(
                    f"S3 bucket {self.bucket} not found at {where}: create it or fix "
                    "ALU_HUB_STORAGE."
                ) from None
            if code in ("403", "AccessDenied"):
                raise StorageError(
                    f"S3 refuses access to bucket {self.bucket} at {where}: check the "
                    "credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE)."
                ) from None
            raise StorageError(f"S3 bucket {self.bucket} at {where} cannot be used: {e}") from None
        except NoCredentialsError:
            raise StorageError(
                "No S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or "
                "AWS_PROFILE)."
            ) from None
        except BotoCoreError as e:
            raise StorageError(
                f"S3 endpoint {where} cannot be reached: {e}; check ALU_HUB_S3_ENDPOINT."
            ) from None

    # -- writing -----------------------------------------------------------------------------

    def put_file(self, src: Path, key: str) -> None:
        self._upload(src, key)
        src.unlink(missing_ok=True)

    def copy_file(self, src: Path, key: str) -> None:
        self._upload(src, key)

    def _upload(self, src: Path, key: str) -> None:
        obj = self.object_key(key)
        size = src.stat().st_size
        # a file over 10,000 parts of the configured size needs larger parts (64 GiB at 16 MiB
        # parts is 4096 parts; this is for a raised ALU_HUB_MAX_UPLOAD)
        config = self.transfer
        if size > self.part_size * MAX_PARTS:
            part = -(-size // MAX_PARTS)
            config = TransferConfig(
                multipart_threshold=part, multipart_chunksize=part, max_concurrency=4
            )
        mime = mimetypes.guess_type(key)[0] or "application/octet-stream"
        try:
            self.client.upload_file(
                str(src), self.bucket, obj, ExtraArgs={"ContentType": mime}, Config=config
            )
            stored = int(self.client.head_object(Bucket=self.bucket, Key=obj)["ContentLength"])
        except _S3_ERRORS as e:
            raise StorageError(f"storing {key} in s3://{self.bucket} failed: {e}") from e
        if stored != size:
            raise StorageError(f"s3://{self.bucket}/{obj} has {stored} bytes, not {size}")

    # -- reading -----------------------------------------------------------------------------

    def local_path(self, key: str) -> Path | None:
        return None

    def download_url(
        self, key: str, *, head: bool = False, filename: str | None = None, mime: str = ""
    ) -> str | None:
        params: dict[str, str] = {"Bucket": self.bucket, "Key": self.object_key(key)}
        if not head:  # S3 takes the response-* overrides on GET only
            if mime:
                params["ResponseContentType"] = mime
            if filename:
                params["ResponseContentDisposition"] = content_disposition(filename)
        try:
            url: str = self.signer.generate_presigned_url(
                "head_object" if head else "get_object",
                Params=params,
                ExpiresIn=self.url_ttl_s,
                HttpMethod="HEAD" if head else "GET",
            )
        except _S3_ERRORS as e:  # e.g. no credentials
            raise StorageError(f"cannot sign a URL for s3://{self.bucket}: {e}") from e
        return url

    # -- removing ----------------------------------------------------------------------------

    def _objects(self, prefix: str) -> Iterator[dict[str, Any]]:
        pages = self.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            done = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
            )
            for err in done.get("Errors", []):
                log.warning("s3: could not delete %s: %s", err.get("Key"), err.get("Message"))

    def delete_prefix(self, prefix: str) -> None:
        root = self.object_key(prefix.strip("/")) + "/"
        try:
            self._delete([o["Key"] for o in self._objects(root)])
        except _S3_ERRORS as e:  # start-up recovery removes them later
            log.warning("s3: could not remove %s (left for start-up recovery): %s", root, e)

    def item_ids(self) -> Iterator[str]:
        """The item ids that have objects under ``items/``."""
        root = self.object_key(ITEMS) + "/"
        pages = self.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=self.bucket, Prefix=root, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                yield str(common["Prefix"])[len(root) :].rstrip("/")

    def remove_unreferenced(
        self, known: Collection[str], before: dt.datetime, after: dt.datetime
    ) -> list[str]:
        cutoff = min(dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.orphan_grace_s), before)
        removed: list[str] = []
        try:
            for item_id in self.item_ids():
                if item_id in known or not _KEY.fullmatch(item_id) or item_id in (".", ".."):
                    continue
                objects = list(self._objects(self.object_key(f"{ITEMS}/{item_id}") + "/"))
                if any(o["LastModified"] > cutoff for o in objects):
                    continue  # maybe a publish in progress on another replica: next time
                if any(o["LastModified"] <= after for o in objects):
                    continue  # older than this database: never its own (``app.recover``)
                self._delete([o["Key"] for o in objects])
                removed.append(item_id)
        except _S3_ERRORS as e:
            log.warning("s3: start-up recovery could not list s3://%s: %s", self.bucket, e)
        return removed
