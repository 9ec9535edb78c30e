"""Domain errors: what went wrong, in words a user can act on, with a field map for forms."""

from __future__ import annotations

from storage.db import is_unavailable


class DomainError(Exception):
    """Base class: `message` is safe to show to the person who made the request."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(DomainError):
    """Bad input, keyed by the form field that is wrong, so the error shows at that field."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = dict(fields)


class NotAllowed(DomainError):
    """The person may not do this under the terms of reference; `contacts` are who to ask."""

    def __init__(self, message: str, contacts: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.contacts = contacts


class NotFound(DomainError):
    """The case, invitee or item no longer exists (a stale button, a mistyped reference)."""


class PlatformFailure(DomainError):
    """The chat platform refused a step after retries; `step` names it for the user."""

    def __init__(self, step: str, error: str, *, permanent: bool = True) -> None:
        super().__init__(f"{step} failed: {error}")
        self.step = step
        self.error = error
        self.permanent = permanent


class RoomNameTaken(PlatformFailure):
    """The channel name is already used (perhaps by an archived channel)."""

    def __init__(self, name: str) -> None:
        super().__init__("creating the case channel", f"the name {name} is taken")
        self.name = name


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` (or what caused it) means the database could not be reached or written: the request
    changed nothing and may simply be tried again (a front end says so, in its own words)."""
    return is_unavailable(error)
