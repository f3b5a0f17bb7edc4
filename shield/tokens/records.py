"""Sealed record IDs: a raw ID becomes a token that only the viewer it was shown to can use.

An ID harvested by one identity is useless to another, and sequential probing has nothing to
count. The payload is the raw ID and a keyed digest of the viewer (never the viewer itself)::

    i  identity digest, 8 bytes      v  the raw ID (int or str; its type round-trips)

The kind (``"user"``, ``"order"``…) is part of the codec purpose (``"record-id:user"``), so
it costs no bytes and a user's token never opens as an order's (that is a
:class:`~shield.errors.MalformedToken`, reason ``bad_tag``). Both token formats are
deterministic, so the same (identity, kind, ID) gives the same token throughout a key epoch:
a client can still compare IDs within one response, cache them and link records together.
Choose the ``encrypted`` format to keep the raw ID itself unreadable.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from shield.errors import ForeignToken, MalformedToken
from shield.tokens.binding import BindingKeys, keyed_digest
from shield.tokens.codec import TokenCodec
from shield.tokens.packing import packer

__all__ = ["RawId", "RecordSealer"]

RawId = int | str

IDENTITY_BYTES = 8
_EXACT_ID_TYPES = (int, str)  # checked first: the usual IDs skip the slower isinstance checks
_PERSON_IDENTITY = b"shield viewer"


class RecordSealer:
    """Seals and unseals record IDs scoped to a viewer.

    >>> from shield.tokens import Keyring, TokenCodec
    >>> sealer = RecordSealer(TokenCodec(Keyring(["a secret of at least 32 bytes......"])))
    >>> sealer.unseal("api-key:alice", "user", sealer.seal("api-key:alice", "user", 100042))
    100042

    ``purpose`` prefixes the codec purpose of every kind; ``detailed_errors``: see
    :class:`~shield.errors.ForeignToken`.
    """

    def __init__(self, codec: TokenCodec, *, purpose: str = "record-id", detailed_errors: bool = False) -> None:
        self.codec = codec
        self.purpose = purpose
        self.detailed_errors = detailed_errors
        self._keys = BindingKeys(codec, purpose)

    def seal(self, identity: str, kind: str, raw_id: RawId) -> str:
        """The token that stands for ``raw_id`` of ``kind`` when shown to ``identity``."""
        return self.sealer(identity, kind)(raw_id)

    def sealer(self, identity: str, kind: str) -> Callable[[RawId], str]:
        """:meth:`seal` for one viewer and kind, prepared once: a response seals many IDs.

        Holds one key epoch: use it for one response, not across requests.
        """
        digest_key, seal = self._keys.sealer(self._purpose(kind))
        pack_id = packer({"i": self._viewer_digest(digest_key, identity)}, "v")  # the payload {"i": …, "v": raw_id}

        def seal_one(raw_id: RawId) -> str:
            if type(raw_id) not in _EXACT_ID_TYPES and (isinstance(raw_id, bool) or not isinstance(raw_id, int | str)):
                raise TypeError(f"a record ID is an int or a str, got {type(raw_id).__name__}")
            return seal(pack_id(raw_id))

        return seal_one

    def unseal(self, identity: str, kind: str, token: str) -> RawId:
        """The raw ID in ``token``, if it was sealed for ``identity`` and ``kind``.

        :class:`~shield.errors.MalformedToken` / :class:`~shield.errors.ExpiredToken` from the
        codec; :class:`~shield.errors.ForeignToken` (``foreign_identity``) for a genuine token
        of another viewer.
        """
        payload = self.codec.unseal(self._purpose(kind), token)
        digest, raw_id = payload.get("i"), payload.get("v")
        if (
            not isinstance(digest, bytes)
            or len(digest) != IDENTITY_BYTES
            or isinstance(raw_id, bool)
            or not isinstance(raw_id, int | str)
        ):
            raise MalformedToken("bad_payload")
        if not hmac.compare_digest(digest, self._viewer_digest(self._keys.for_token(token), identity)):
            raise ForeignToken("foreign_identity", detailed=self.detailed_errors)
        return raw_id

    def _purpose(self, kind: str) -> str:
        if not kind:
            raise ValueError("a record kind must not be empty")
        return f"{self.purpose}:{kind}"

    def _viewer_digest(self, key: bytes, identity: str) -> bytes:
        return keyed_digest(key, _PERSON_IDENTITY, identity.encode("utf-8", "surrogatepass"), IDENTITY_BYTES)
