#!/usr/bin/env python3
"""Verify a sam-at model file (lib/models/model_file.ts) before its tensors are used; stdlib only.

    python3 scripts/model_file_check.py FILE.safetensors   # prints the sam_at metadata as JSON

Version 2: the header's "sha256" is the SHA-256 of the whole file with its own 64 hex digits
written as zeros, so an edited header (a normalisation mean, the run key) is refused like a changed
weight. Version 1 (older files): the checksum covers the tensor data only; such files load, with a
note. A file named "...-<run key>.safetensors" must hold that run key in its metadata, so a model
of another run copied over it is refused. Exit 2 with one sentence on any fault.
"""
import hashlib
import json
import re
import struct
import sys

FORMAT, VERSIONS = "sam-at-model", (1, 2)


class ModelFileError(Exception):
    pass


def check(path, raw):
    """(header dict, sam_at dict, data bytes) of a verified file; ModelFileError otherwise."""
    bad = lambda why: ModelFileError(f"Model file {path} is damaged ({why}); copy it again or re-run the training that wrote it.")  # noqa: E731
    if len(raw) < 8:
        raise bad("truncated: no header")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise bad("truncated inside the header")
    try:
        header = json.loads(raw[8:8 + n].decode("utf-8"))
        sam_at = json.loads(header["__metadata__"]["sam_at"])
    except (ValueError, KeyError, TypeError):
        raise bad("no readable header with sam_at metadata") from None
    if sam_at.get("format") != FORMAT or sam_at.get("version") not in VERSIONS:
        raise ModelFileError(f"Model file {path} is not a version 1 or 2 {FORMAT} file; "
                             "read it with the sam-at version that wrote it.")
    claimed, data = str(sam_at.get("sha256")), raw[8 + n:]
    if sam_at["version"] == 1:
        if hashlib.sha256(data).hexdigest() != claimed:
            raise bad("the tensor data does not match its SHA-256 checksum")
    else:
        head = raw[:8 + n]
        digits = claimed.encode("ascii", "replace")
        if len(digits) != 64 or head.count(digits) != 1 or \
                hashlib.sha256(head.replace(digits, b"0" * 64) + data).hexdigest() != claimed:
            raise bad("its header or data does not match its SHA-256 checksum")
    held = (sam_at.get("meta") or {}).get("run_key")
    named = re.search(r"-(k[0-9a-f]{8})\.safetensors$", str(path))
    if held is not None and named and named.group(1) != held:
        raise ModelFileError(f"Model file {path} holds run {held}, not run {named.group(1)} (a model of "
                             "another run copied over it?); restore it (e.g. git checkout) or delete it "
                             "to train that run again.")
    return header, sam_at, data


def read_checked(path):
    """check() on the file at path, and its bytes; one note on stderr for a version-1 file."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise ModelFileError(f"Model file {path} cannot be read ({e.strerror}); check the path.") from None
    header, sam_at, data = check(path, raw)
    if sam_at["version"] == 1:
        print(f"note: {path} is a version-1 file: its checksum covers the tensor data, not the header.",
              file=sys.stderr)
    return header, sam_at, data, raw


def main(argv):
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python3 scripts/model_file_check.py FILE.safetensors", file=sys.stderr)
        return 2
    try:
        sam_at = read_checked(argv[0])[1]
    except ModelFileError as e:
        print(e, file=sys.stderr)
        return 2
    print(json.dumps(sam_at))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
