"""The served ASGI object: `uvicorn forum.asgi:app`. The only module that builds it."""

from forum import heap
from forum.app import create_app

app = create_app()


@app.before_serving
async def settle_heap() -> None:
    # Registered after create_app's hooks, so it runs once start-up has loaded everything (jieba's dictionary
    # too). Here rather than in create_app: tests build many apps in one process and keep the default collector.
    heap.settle()
