"""OpenAPI description: request bodies parsed by our own dependencies, no 422 (errors are contract JSON)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def request_body(model: type[BaseModel], *, forms: bool = False) -> dict[str, Any]:
    """`openapi_extra` of a route whose body `model` is parsed by a dependency (JSON, optionally forms)."""
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    content: dict[str, Any] = {"application/json": {"schema": ref}}
    if forms:
        content.update({media: {"schema": ref} for media in FORM_TYPES})
    return {"requestBody": {"required": True, "content": content}}


def install_openapi(app: FastAPI, request_models: Iterable[type[BaseModel]]) -> None:
    """Replace `app.openapi` by one that knows the request models and leaves FastAPI's 422 out."""
    models = tuple(request_models)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            js = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
            for name, sub in js.pop("$defs", {}).items():
                components.setdefault(name, sub)
            components[model.__name__] = js
        for path in schema.get("paths", {}).values():
            for operation in path.values():
                if isinstance(operation, dict):
                    operation.get("responses", {}).pop("422", None)
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
