"""`turnout catalog`: the data behind the catalog (package versions and dates), the providers it
can and cannot reach, and for one model every figure with the place it came from."""

from __future__ import annotations

from typing import TextIO

from turnout.core.catalog.catalog import Catalog
from turnout.core.catalog.pricing import money


def report(catalog: Catalog, model_id: str | None, out: TextIO) -> int:
    if model_id:
        return _model(catalog, model_id, out)
    ds = catalog.dataset
    if ds is None:
        out.write("dataset: off (catalog_dataset: false); built-in and configured models only\n")
    else:
        for name, version in sorted(ds.versions.items()):
            out.write(f"dataset: {name} {version}, newest data {ds.dates.get(name, 'unknown')}\n")
        for warning in ds.stale():
            out.write(f"stale: {warning}\n")
    origins: dict[str, int] = {}
    for m in catalog.models.values():
        origins[m.origin] = origins.get(m.origin, 0) + 1
    listed = len(catalog.listed())
    out.write(f"models: {len(catalog.models)} ({', '.join(f'{v} {k}' for k, v in sorted(origins.items()))}); "
              f"{listed} listed by GET /models (an available endpoint, or built-in/configured)\n\n")
    out.write("PROVIDER\tDIALECT\tKEY\tSOURCE\n")
    for p in sorted(catalog.providers.values(), key=lambda p: p.slug):
        ok = p.availability()[0]
        key = "set" if ok and p.requires_key else ("not needed" if not p.requires_key else f"missing: {p.key_env or 'api_key'}")
        out.write(f"{p.slug}\t{p.dialect}\t{key}\t{p.source}\n")
    if ds is not None and ds.unsupported:
        out.write("\nNOT SPOKEN\tMODELS\tWHY\n")
        for slug, info in sorted(ds.unsupported.items()):
            out.write(f"{slug}\t{info['models']}\t{info['reason']}\n")
    return 0


def _model(catalog: Catalog, model_id: str, out: TextIO) -> int:
    m = catalog.get(model_id)
    if m is None:
        out.write(f"no model {model_id!r} in the catalog\n")
        return 1
    out.write(f"{m.id}: {m.name} (origin: {m.origin})\n")
    for figure, source in sorted(m.sources.items()):
        out.write(f"  {figure}: {source}\n")
    out.write(f"  context_length {m.context_length}, created {m.created}, inputs {'+'.join(m.input_modalities)}\n")
    out.write("ENDPOINT\tUPSTREAM\tIN $/M\tOUT $/M\tTIERS\tPRICES FROM\tAVAILABLE\n")
    for e in m.endpoints:
        p = e.pricing
        ok, why = e.provider.availability()
        tiers = ", ".join(f">{above}: ${money(t.prompt * 1_000_000)}/${money(t.completion * 1_000_000)}"
                          for above, t in p.tiers) or "-"
        out.write(f"{e.provider.slug}\t{e.upstream_model}\t${money(p.prompt * 1_000_000)}\t"
                  f"${money(p.completion * 1_000_000)}\t{tiers}\t{e.pricing_source or m.origin}\t"
                  f"{'yes' if ok else why}\n")
    return 0
