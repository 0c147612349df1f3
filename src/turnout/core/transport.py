"""The network seam: one pooled aiohttp session for every upstream, owned by the runtime.

Connection errors and timeouts become `UpstreamError`s here, so nothing above sees aiohttp.
aiohttp is used rather than httpx for its lower per-request CPU cost (see bench/README.md).
"""

from __future__ import annotations

import aiohttp

from turnout.model.errors import ErrorKind, FailureClass, UpstreamError
from turnout.providers.base import Target, UpstreamRequest


class Transport:
    def __init__(self, connect_timeout: float, read_timeout: float) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, keepalive_timeout=60, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=self._connect_timeout, sock_read=self._read_timeout
            ),
            skip_auto_headers=("User-Agent",),
            auto_decompress=True,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def open(self, up: UpstreamRequest, target: Target, *, read_timeout: float | None = None) -> aiohttp.ClientResponse:
        """Send the request and return once the status line and headers are in."""
        assert self._session is not None
        timeout = self._session.timeout
        if read_timeout is not None:
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout, sock_read=read_timeout)
        try:
            return await self._session.request(up.method, up.url, data=up.body, headers=dict(up.headers), timeout=timeout)
        except TimeoutError:
            raise timed_out(target) from None
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamError(
                ErrorKind.PROVIDER_UNREACHABLE,
                f"{target.provider_name} is unreachable: {exc.os_error.strerror or exc.os_error}",
                provider=target.provider_name,
                failure=FailureClass.TRANSIENT,
            ) from None
        except aiohttp.ClientError as exc:
            raise broken(target, exc) from None


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
        f"the connection to {target.provider_name} failed: {type(exc).__name__}",
        provider=target.provider_name,
        failure=FailureClass.TRANSIENT,
    )
