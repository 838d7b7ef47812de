"""The served ASGI object: `uvicorn forum.asgi:app`. The only module that builds it."""

from forum.app import create_app

app = create_app()
