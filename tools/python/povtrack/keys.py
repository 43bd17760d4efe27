"""CURVE keys: the files `povtrack keygen` writes, and Z85 keys.

A key file is INI lines ``public-key = <Z85>`` and, in the secret file
(NAME.key, mode 0600), ``secret-key = <Z85>``.  This module accepts what
the C client library accepts (povtrack_client_read_keyfile() in
tools/client/keyfile.c): a UTF-8 byte order mark, CR LF line ends, blank
lines, ``;`` or ``#`` comment lines, ``[section]`` lines (ignored),
``name = value`` or ``name: value`` split at the first ``=`` or ``:``,
spaces around either, and a comment after the value when a space comes
before its ``;``; at most 16 KiB.  Any other line, or another name, is an
error naming the file and the line.  A secret key file readable by group
or others is refused, as the C client refuses it.
"""

import os
import stat
import struct
from dataclasses import dataclass, field

import zmq.utils.z85

from .errors import KeyFileError

KEY_Z85_LEN = 40  # characters of a CURVE key in Z85 (32 bytes)
KEYFILE_MAX = 16384  # larger than any key file keygen writes, many times
_KEY_NAMES = ("public-key", "secret-key")
_SPACE = " \t\r\f\v"


@dataclass(frozen=True)
class KeyPair:
    """A client's CURVE key pair in Z85; ``secret`` is None when read from
    a public key file.  repr() never shows the secret key."""

    public: str
    secret: str = field(default=None, repr=False)


def key_valid(z85):
    """Is z85 a CURVE key in Z85: 40 characters that decode to 32 bytes?"""
    if isinstance(z85, bytes):
        try:
            z85 = z85.decode("ascii")
        except UnicodeDecodeError:
            return False
    if not isinstance(z85, str) or len(z85) != KEY_Z85_LEN:
        return False
    try:
        return len(zmq.utils.z85.decode(z85)) == 32
    except (KeyError, ValueError, struct.error):  # struct: a chunk > 2**32
        return False


def _parse(path, text):
    """The keys of text, a key file's content: {name: value}."""
    if text.startswith("\ufeff"):
        text = text[1:]
    keys = {}
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.strip(_SPACE)
        bad = "the line"
        if "\0" in line:
            pass
        elif line == "" or line[0] in ";#":
            continue
        elif line[0] == "[":
            if line[-1] == "]":
                continue
        else:
            split = min((line.find(c) for c in "=:" if c in line),
                        default=-1)
            if split >= 0:
                name = line[:split].strip(_SPACE)
                value = line[split + 1:]
                for i in range(1, len(value)):
                    if value[i] == ";" and value[i - 1] in _SPACE:
                        value = value[:i]
                        break
                value = value.strip(_SPACE)
                if name in _KEY_NAMES and key_valid(value):
                    keys[name] = value
                    continue
                bad = name or bad
        raise KeyFileError(
            path, f"{path}:{number}: {bad} is not a key this file may hold "
            f"(public-key, secret-key: 40 characters of Z85)")
    return keys


def read_keyfile(path, secret=True):
    """The KeyPair in the key file at path (a str or os.PathLike).

    secret=True (a client's own NAME.key): the file must hold the secret
    key and be readable by its owner only.  secret=False (a NAME.pub, or
    the daemon's public key): only the public key is read.  Raises
    KeyFileError naming the file, the line and the problem.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            data = f.read(KEYFILE_MAX + 1)
    except OSError as e:
        raise KeyFileError(path, f"{path}: {e.strerror}") from None
    if len(data) > KEYFILE_MAX:
        raise KeyFileError(path, f"{path}: larger than {KEYFILE_MAX} bytes: "
                           f"not a key file")
    # Bytes that are not UTF-8 may stand in a comment, as in C; a key is
    # ASCII, and such a byte on a key line makes it a bad line.
    keys = _parse(path, data.decode("utf-8", errors="surrogateescape"))
    if "public-key" not in keys:
        raise KeyFileError(path, f"{path}: no public-key")
    if not secret:
        return KeyPair(keys["public-key"])
    if "secret-key" not in keys:
        raise KeyFileError(
            path, f"{path}: no secret-key (this is a public key file; use "
            f"the .key file that povtrack keygen wrote beside it)")
    if stat.S_IMODE(mode) & 0o077:
        raise KeyFileError(
            path, f"{path}: a secret key file must be readable by its owner "
            f"only (chmod 600 {path})")
    return KeyPair(keys["public-key"], keys["secret-key"])


def server_key(value):
    """The daemon's public key in Z85 from value: the path of a file
    holding it (its .pub, or any key file: only the public key is read),
    or the key itself (40 characters of Z85).  A path that exists is read
    as a file even when it is also 40 characters of Z85, as
    "/tmp/povtrack-abcdefgh/server.pub" is."""
    if isinstance(value, os.PathLike) or (isinstance(value, str)
                                          and os.path.exists(value)):
        return read_keyfile(value, secret=False).public
    if isinstance(value, (str, bytes)) and key_valid(value):
        return value.decode("ascii") if isinstance(value, bytes) else value
    if isinstance(value, str):
        return read_keyfile(value, secret=False).public  # says what is amiss
    raise KeyFileError(None, "server key: not a 40-character Z85 CURVE key "
                       "nor the path of a key file")


def client_keys(value):
    """A client's KeyPair from value: a KeyPair with its secret key, or the
    path of the .key file `povtrack keygen` wrote."""
    if isinstance(value, KeyPair):
        if not key_valid(value.public) or not key_valid(value.secret):
            raise KeyFileError(None, "client key pair: not 40-character Z85 "
                               "CURVE keys")
        return value
    if isinstance(value, (str, os.PathLike)):
        return read_keyfile(value, secret=True)
    raise KeyFileError(None, "key: give the path of the .key file povtrack "
                       "keygen wrote, or a KeyPair")
