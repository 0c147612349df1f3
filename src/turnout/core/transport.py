"""The network seam: one pooled HTTP client for every upstream, owned by the runtime.

Connection errors and timeouts become `UpstreamError`s here; above this module only
`core/http.py`'s `Response` (status, headers, `read`, `readany`, `release`, `close`) and its
`HTTPError` are seen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from turnout.core.http import ConnectError, HTTPClient, HTTPError, ReadTimeout, Response
from turnout.model.errors import ErrorKind, FailureClass, UpstreamError
from turnout.providers.base import Target, UpstreamRequest

__all__ = ["HTTPError", "Response", "Transport", "broken", "timed_out"]


class Transport:
    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self._client = HTTPClient(connect_timeout, read_timeout)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        await self._client.close()

    async def open(self, up: UpstreamRequest, target: Target, *, read_timeout: float | None = None) -> Response:
        """Send the request and return once the status line and headers are in."""
        try:
            return await self._client.request(up.method, up.url, dict(up.headers), up.body, read_timeout=read_timeout)
        except ReadTimeout:
            raise timed_out(target) from None
        except ConnectError as exc:
            raise UpstreamError(
                ErrorKind.PROVIDER_UNREACHABLE,
                f"{target.provider_name} is unreachable: {exc}",
                provider=target.provider_name,
                failure=FailureClass.TRANSIENT,
            ) from None
        except HTTPError as exc:
            raise broken(target, exc) from None


    async def fetch(self, up: UpstreamRequest, target: Target) -> tuple[int, Mapping[str, str], bytes]:
        """A whole exchange: status, headers and body; the connection goes back to the pool."""
        resp = await self.open(up, target)
        try:
            body = await resp.read()
        except ReadTimeout:
            raise timed_out(target) from None
        except HTTPError as exc:
            raise broken(target, exc) from None
        except asyncio.CancelledError:  # the client left or the deadline passed: drop, never pool, it
            resp.close()
            raise
        finally:
            resp.release()
        return resp.status, resp.headers, body


def timed_out(target: Target) -> UpstreamError:
    return UpstreamError(
        ErrorKind.PROVIDER_TIMEOUT,
        f"{target.provider_name} timed out",
        provider=target.provider_name,
        failure=FailureClass.TRANSIENT,
    )


def broken(target: Target, exc: BaseException) -> UpstreamError:
    return UpstreamError(
        ErrorKind.PROVIDER_BAD_RESPONSE,
        f"the connection to {target.provider_name} failed: {exc or type(exc).__name__}",
        provider=target.provider_name,
        failure=FailureClass.TRANSIENT,
    )
