"""Per-model parameter rules, and the record of what a translator had to change to honour them.

A provider's models differ in what they take (OpenRouter keeps this per endpoint): which sampling
parameters, which of them not together, which form thinking is asked in (Anthropic's `adaptive`
or `enabled` with a budget, Gemini's `thinkingLevel` or `thinkingBudget`, Z.ai's on/off toggle),
which effort levels, the smallest and largest thinking budget, and whether thinking can be off.
The catalog (`parameter_rules` in catalog/builtin.yaml, or an endpoint's own `parameter_rules`)
holds the data; `ParamRules` is its parsed, immutable form, resolved once per endpoint at start-up
and carried on the `Target`.

A translator never silently changes a caller's value: what a model cannot take is dropped, or
changed to the nearest value it takes, and noted in an `Adjustments` list that the generation
record keeps (`attempts[].adjusted`). With `provider.require_parameters: true` the caller asked
for exactness, so the same note becomes a 400 naming the parameter instead.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from turnout.model.chat import JSON, ChatRequest
from turnout.model.errors import invalid

THINKING_FORMS = frozenset({"adaptive", "budget", "level", "toggle"})
# OpenRouter's effort scale, lowest first; a model's own levels are a subset of these names.
EFFORT_SCALE: tuple[str, ...] = ("minimal", "low", "medium", "high", "xhigh", "max")
SAMPLING = ("temperature", "top_p", "top_k", "min_p", "top_a", "frequency_penalty", "presence_penalty",
            "repetition_penalty", "seed")


class RulesError(ValueError):
    """A `parameter_rules` entry is malformed (raised at start-up, never on the request path)."""


@dataclass(frozen=True, slots=True)
class ParamRules:
    """What one model takes. `None` for `sampling` means: whatever the dialect carries."""

    family: str = "default"
    sampling: frozenset[str] | None = None
    exclusive: tuple[frozenset[str], ...] = ()  # groups of which at most one may be sent
    thinking: tuple[str, ...] = ()  # forms the model takes, preferred first; () = no thinking control
    efforts: tuple[str, ...] = ()  # effort / thinking levels the model takes
    budget_min: int | None = None
    budget_max: int | None = None
    thinking_off: bool = True  # whether thinking can be turned off

    def takes_sampling(self, name: str) -> bool:
        return self.sampling is None or name in self.sampling

    def nearest_effort(self, effort: str) -> str | None:
        """The model's level for `effort`: itself, else the highest level below it, else its lowest."""
        if not self.efforts:
            return None
        if effort in self.efforts:
            return effort
        rank = EFFORT_SCALE.index(effort) if effort in EFFORT_SCALE else EFFORT_SCALE.index("medium")
        below = [e for e in self.efforts if e in EFFORT_SCALE and EFFORT_SCALE.index(e) < rank]
        return max(below, key=EFFORT_SCALE.index) if below else self.efforts[0]

    def clamp_budget(self, budget: int) -> int:
        if self.budget_min is not None:
            budget = max(budget, self.budget_min)
        if self.budget_max is not None:
            budget = min(budget, self.budget_max)
        return budget


DEFAULT_RULES = ParamRules()


def parse_rules(raw: Mapping[str, Any], where: str, base: ParamRules = DEFAULT_RULES) -> ParamRules:
    """One `parameter_rules` mapping, over `base` (so an endpoint may override one field)."""
    if not isinstance(raw, Mapping):
        raise RulesError(f"{where} must be a mapping")
    known = {"family", "dialect", "models", "sampling", "exclusive", "thinking", "efforts", "budget_min",
             "budget_max", "thinking_off"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise RulesError(f"{where}: unknown keys {unknown}")

    def names(key: str) -> tuple[str, ...]:
        value = raw[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise RulesError(f"{where}.{key} must be a list of strings")
        return tuple(value)

    def budget(key: str, current: int | None) -> int | None:
        value = raw.get(key, current)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            raise RulesError(f"{where}.{key} must be a non-negative integer")
        return value

    sampling = base.sampling
    if "sampling" in raw:
        sampling = None if raw["sampling"] is None else frozenset(names("sampling"))
    exclusive = base.exclusive
    if "exclusive" in raw:
        groups = raw["exclusive"]
        if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
            raise RulesError(f"{where}.exclusive must be a list of lists of parameter names")
        exclusive = tuple(frozenset(str(p) for p in g) for g in groups)
    thinking = names("thinking") if "thinking" in raw else base.thinking
    if set(thinking) - THINKING_FORMS:
        raise RulesError(f"{where}.thinking: forms are {sorted(THINKING_FORMS)}")
    thinking_off = raw.get("thinking_off", base.thinking_off)
    if not isinstance(thinking_off, bool):
        raise RulesError(f"{where}.thinking_off must be a boolean")
    return ParamRules(
        family=str(raw.get("family", base.family)),
        sampling=sampling,
        exclusive=exclusive,
        thinking=thinking,
        efforts=names("efforts") if "efforts" in raw else base.efforts,
        budget_min=budget("budget_min", base.budget_min),
        budget_max=budget("budget_max", base.budget_max),
        thinking_off=thinking_off,
    )


@dataclass(frozen=True, slots=True)
class RuleBook:
    """Every family's rules, in catalog order: the first entry whose dialect and model pattern match wins."""

    entries: tuple[tuple[str, tuple[str, ...], ParamRules], ...] = ()

    @classmethod
    def parse(cls, raw: Any, where: str = "parameter_rules") -> RuleBook:
        if raw is None:
            return cls()
        if not isinstance(raw, list):
            raise RulesError(f"{where} must be a list")
        entries = []
        for i, entry in enumerate(raw):
            w = f"{where}[{i}]"
            if not isinstance(entry, Mapping) or not isinstance(entry.get("dialect"), str):
                raise RulesError(f"{w}.dialect is required")
            models = entry.get("models")
            if not isinstance(models, list) or not models or not all(isinstance(m, str) for m in models):
                raise RulesError(f"{w}.models must be a non-empty list of name patterns")
            entries.append((entry["dialect"], tuple(models), parse_rules(entry, w)))
        return cls(tuple(entries))

    def lookup(self, dialect: str, upstream_model: str) -> ParamRules:
        name = upstream_model.removeprefix("models/").lower()
        for entry_dialect, patterns, rules in self.entries:
            if entry_dialect == dialect and any(fnmatch.fnmatchcase(name, p) for p in patterns):
                return rules
        return DEFAULT_RULES


@dataclass(slots=True)
class Adjustments:
    """What a translator dropped or changed for one request; strict mode makes each one a 400."""

    model: str
    strict: bool = False
    notes: list[JSON] = field(default_factory=list)

    @classmethod
    def of(cls, request: ChatRequest, model: str) -> Adjustments:
        provider = request.provider if isinstance(request.provider, dict) else {}
        return cls(model, strict=provider.get("require_parameters") is True)

    def drop(self, param: str, reason: str) -> None:
        self._note(param, "dropped", reason)

    def change(self, param: str, reason: str) -> None:
        self._note(param, "changed", reason)

    def _note(self, param: str, action: str, reason: str) -> None:
        if self.strict:
            raise invalid(param, f"'{param}' cannot be honoured by {self.model}: {reason} "
                                 "(provider.require_parameters is set)")
        self.notes.append({"param": param, "action": action, "reason": reason})


def sampling_values(request: ChatRequest, names: Iterable[str] = SAMPLING) -> dict[str, Any]:
    """The sampling parameters the caller set, in SAMPLING order."""
    return {n: v for n in names if (v := getattr(request, n)) is not None}


def admit_sampling(request: ChatRequest, rules: ParamRules, carried: Sequence[str], notes: Adjustments,
                   dialect_name: str) -> dict[str, Any]:
    """The caller's sampling values this model takes: the rest dropped and noted.

    `carried` is what the dialect can express at all; an exclusive group keeps its first
    member in `SAMPLING` order (temperature before top_p before top_k).
    """
    kept: dict[str, Any] = {}
    for name, value in sampling_values(request).items():
        if name not in carried:
            notes.drop(name, f"{dialect_name} has no {name}")
        elif not rules.takes_sampling(name):
            notes.drop(name, f"{rules.family} takes no {name}")
        else:
            clash = next((k for g in rules.exclusive if name in g for k in kept if k in g), None)
            if clash is not None:
                notes.drop(name, f"{rules.family} refuses {clash} and {name} together; {clash} was kept")
            else:
                kept[name] = value
    return kept


def drop_unsupported(request: ChatRequest, names: Iterable[str], notes: Adjustments, dialect_name: str) -> None:
    """Note every parameter in `names` the caller set that the dialect has no place for."""
    for name in names:
        if getattr(request, name) is not None:
            notes.drop(name, f"{dialect_name} has no {name}")
