"""Request bodies that come as JSON, or as multipart/form-data when pictures come with them.

quart-schema's `validate_request` takes one source; posting a thread or reply takes either. The JSON form is
described by quart-schema as usual, and `forum.app` adds the multipart form to the OpenAPI document from the
attribute set here, so the document stays true.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from quart import current_app, request
from quart_schema import DataSource, RequestSchemaValidationError
from quart_schema.conversion import model_load
from quart_schema.validation import QUART_SCHEMA_REQUEST_ATTRIBUTE

from forum.web.uploads import FIELD as IMAGES_FIELD

MULTIPART_ATTRIBUTE = "_linli_multipart_model"


def _load(data: Any, model: type[BaseModel]) -> BaseModel:
    return model_load(
        data,
        model,
        RequestSchemaValidationError,
        decamelize=current_app.config["QUART_SCHEMA_CONVERT_CASING"],
        preference=current_app.config["QUART_SCHEMA_CONVERSION_PREFERENCE"],
    )


def validate_json_or_multipart(
    json_model: type[BaseModel], multipart_model: type[BaseModel]
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
    """Pass the body, validated, as `data`: `multipart_model` for multipart/form-data (its text fields and the
    list of files in `images`), else `json_model` for a JSON body."""

    def decorator(func: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        setattr(func, QUART_SCHEMA_REQUEST_ATTRIBUTE, (json_model, DataSource.JSON))
        setattr(func, MULTIPART_ATTRIBUTE, multipart_model)

        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.mimetype == "multipart/form-data":
                form = await request.form
                fields: dict[str, Any] = {key: form[key] for key in form}
                fields[IMAGES_FIELD] = (await request.files).getlist(IMAGES_FIELD)
                data = _load(fields, multipart_model)
            else:
                data = _load(await request.get_json(), json_model)
            return await func(*args, data=data, **kwargs)

        return wrapper

    return decorator
