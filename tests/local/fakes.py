"""A stand-in for xllamacpp.Server: streams chunks in llama.cpp's shape, honours the stop callback."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class FakeServer:
    """Emits ``max_tokens`` pieces ``" tok"`` every ``delay`` seconds, then a final chunk with usage."""

    def __init__(self, delay: float = 0.01) -> None:
        self.delay = delay
        self.calls = 0
        self.cancelled = 0
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    def handle_completions(self, payload: dict[str, Any], callback: Callable[[dict[str, Any]], bool]) -> None:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            n = int(payload["max_tokens"])
            for i in range(n):
                time.sleep(self.delay)
                if callback({"choices": [{"text": " tok", "index": 0, "finish_reason": None}]}):
                    with self._lock:
                        self.cancelled += 1
                    return
                del i
            callback(
                {
                    "choices": [{"text": "", "index": 0, "finish_reason": "length"}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": n, "total_tokens": 3 + n},
                    "timings": {
                        "prompt_n": 3,
                        "predicted_n": n,
                        "prompt_ms": 1.0,
                        "predicted_ms": n * self.delay * 1000,
                    },
                }
            )
        finally:
            with self._lock:
                self.running -= 1
