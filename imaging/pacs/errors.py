"""What can go wrong when talking to a PACS, as exceptions whose message says what failed, where, and what to do.

Every failure of this package reaches callers as a `PacsError` subclass; library exceptions (requests, pynetdicom,
socket) never leak. Messages never contain a password.
"""

from __future__ import annotations


class PacsError(Exception):
    """Base class: a PACS operation failed. ``str(exc)`` is one line fit to show a user."""


class PacsConfigError(PacsError):
    """The server settings (config file or dialog input) are invalid."""


class PacsInputError(PacsError):
    """A local input is unusable: a file to store is not DICOM, a query is impossible."""


class PacsUnreachable(PacsError):
    """The server is down, the host is unknown, or the connection was lost part-way."""


class PacsRefused(PacsError):
    """The server answered but refused: association rejected, wrong AE title, bad credentials, no permission, TLS."""


class PacsTimeout(PacsError):
    """The server did not answer within the configured time."""


class PacsProtocolError(PacsError):
    """The server answered something unexpected: an error status, a malformed reply, data that does not match."""


class PacsNotFound(PacsError):
    """The server does not hold what was asked for."""
