"""Errors the domain raises. Messages are English msgids, translated where they are shown."""

from __future__ import annotations

from forum.i18n import N_, gettext


class DomainError(Exception):
    status = 400
    code = "bad_request"
    default_message = N_("The request could not be processed.")

    def __init__(self, message: str | None = None, **params: object) -> None:
        self.message = message or self.default_message
        self.params = params
        super().__init__(self.message)

    def translated(self) -> str:
        return gettext(self.message, **self.params)


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = N_("That page or item does not exist, or you cannot see it.")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    default_message = N_("You do not have permission to do that.")


class NotAuthenticated(DomainError):
    status = 401
    code = "not_authenticated"
    default_message = N_("Please log in first.")


class InvalidInput(DomainError):
    """One or more fields are wrong. `fields` maps a field name to a (msgid, params) pair."""

    status = 422
    code = "invalid_input"
    default_message = N_("Please correct the highlighted fields.")

    def __init__(self, fields: dict[str, tuple[str, dict[str, object]]], *, status: int = 422) -> None:
        super().__init__()
        self.fields = fields
        self.status = status

    def translated_fields(self) -> dict[str, str]:
        return {name: gettext(msgid, **params) for name, (msgid, params) in self.fields.items()}


def field_error(field: str, message: str, *, status: int = 422, **params: object) -> InvalidInput:
    return InvalidInput({field: (message, params)}, status=status)
