"""The floor: a bare ASGI app that answers every request with one fixed JSON body.

Served by the same uvicorn setup as modelreg (`uvicorn.run`, same loop and HTTP parser,
same worker count), it is the most a Python HTTP service gets out of the machine, with
the same load generator in front of it. The body is a model version as modelreg would
send it, so the bytes on the wire are alike too.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["BODY", "app", "serve", "served"]

BODY = orjson.dumps(
    {
        "id": "12",
        "name": "v1",
        "registeredModelId": "11",
        "author": "bench",
        "state": "LIVE",
        "customProperties": {
            "team": {"metadataType": "MetadataStringValue", "string_value": "team-3"},
            "dataset": {"metadataType": "MetadataStringValue", "string_value": "ds-0042"},
            "accuracy": {"metadataType": "MetadataDoubleValue", "double_value": 0.93},
        },
        "createTimeSinceEpoch": "1790000000000",
        "lastUpdateTimeSinceEpoch": "1790000000000",
    }
)
_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())],
}
_BODY = {"type": "http.response.body", "body": BODY}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    await send(_START)
    await send(_BODY)


def served() -> Any:
    """Factory for the workers: the app inside the same connection spreading as modelreg's."""
    from modelreg.api.spread import install

    return install(app)


def serve(host: str, port: int, workers: int) -> None:
    """As `modelreg serve` runs uvicorn (workers, connection spreading), less its logging."""
    import uvicorn

    from modelreg.api.spread import workers_file

    with workers_file(workers):
        uvicorn.run(
            "bench._floor:served",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            server_header=False,
            log_level="warning",
        )
