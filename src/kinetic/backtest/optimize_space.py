"""The search space of ``main.py optimize``: parameter ranges from flags or YAML.

Syntax of ``--param NAME=SPEC`` (and of a YAML value given as a string):

* ``fast=5:50`` — integers 5..50; ``slow=20:200:10`` — 20, 30, ..., 200;
* ``stop=0.5:3.0`` — floats; ``stop=0.5:3.0:0.25`` — floats on a step;
  ``lr=0.001:0.1:log`` — floats (or integers) sampled on a log scale;
* ``ma=sma,ema,wma`` — one of the listed values (categorical);
* ``allow_short=true`` — a fixed value (passed to every trial).

A name that is a ``UnifiedConfig`` field (``spot_stop_loss_pct``) is applied like
``--set``; any other name is a strategy parameter (``--param`` of ``backtest``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from config import ConfigValidationError, UnifiedConfig

if TYPE_CHECKING:
    import optuna

Kind = Literal["int", "float", "categorical"]
MAX_GRID_POINTS = 1_000_000


@dataclass(frozen=True)
class ParamSpec:
    """One searched (or fixed) parameter."""

    name: str
    kind: Kind
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    choices: tuple[str, ...] = ()

    @property
    def is_config_field(self) -> bool:
        """True when the name is a ``UnifiedConfig`` field (applied like ``--set``)."""
        return self.name in UnifiedConfig.model_fields

    @property
    def fixed(self) -> bool:
        """True when the parameter has one value only."""
        return self.kind == "categorical" and len(self.choices) == 1

    def describe(self) -> str:
        """Return the spec in the command-line syntax."""
        if self.kind == "categorical":
            return ",".join(self.choices)
        parts = [_num(self.low), _num(self.high)]
        if self.step is not None:
            parts.append(_num(self.step))
        if self.log:
            parts.append("log")
        return ":".join(parts)

    def suggest(self, trial: optuna.trial.BaseTrial) -> str:
        """Ask the trial for a value; return it as the string a backtest takes."""
        if self.kind == "categorical":
            return str(trial.suggest_categorical(self.name, list(self.choices)))
        if self.kind == "int":
            step = int(self.step) if self.step is not None else 1
            value = trial.suggest_int(self.name, int(self.low), int(self.high), step=step,
                                      log=self.log)  # fmt: skip
            return str(value)
        return _num(trial.suggest_float(self.name, self.low, self.high, step=self.step,
                                        log=self.log))  # fmt: skip

    def grid_values(self) -> list[Any]:
        """Return every value of the parameter (for the grid sampler)."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.step is None:
            if self.kind == "int" and not self.log:
                return list(range(int(self.low), int(self.high) + 1))
            raise ConfigValidationError(
                f"--param {self.name}={self.describe()}: the grid sampler needs a step "
                f"(e.g. {self.name}={_num(self.low)}:{_num(self.high)}:STEP)"
            )
        count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        values = [self.low + i * self.step for i in range(count)]
        if self.kind == "int":
            return [round(v) for v in values]
        return [float(_num(v)) for v in values]


def _num(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigValidationError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigValidationError(f"{where}: {text!r} is not a finite number")
    return value


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def parse_spec(name: str, spec: str, where: str) -> ParamSpec:
    """Parse ``SPEC`` for parameter ``name``; ``where`` prefixes any error message."""
    spec = spec.strip()
    if not spec:
        raise ConfigValidationError(f"{where}: empty range; expected LOW:HIGH[:STEP|:log] or A,B,C")
    if ":" not in spec:
        choices = tuple(c.strip() for c in spec.split(","))
        if any(not c for c in choices):
            raise ConfigValidationError(f"{where}: empty value in the list {spec!r}")
        if len(set(choices)) != len(choices):
            raise ConfigValidationError(f"{where}: repeated value in the list {spec!r}")
        return ParamSpec(name, "categorical", choices=choices)
    parts = [p.strip() for p in spec.split(":")]
    log = parts[-1].lower() == "log"
    if log:
        parts = parts[:-1]
    if len(parts) not in (2, 3):
        raise ConfigValidationError(
            f"{where}: expected LOW:HIGH, LOW:HIGH:STEP or LOW:HIGH:log, got {spec!r}"
        )
    low, high = _number(parts[0], where), _number(parts[1], where)
    step = _number(parts[2], where) if len(parts) == 3 else None
    kind: Kind = "int" if all(_is_int(p) for p in parts) else "float"
    return _checked(ParamSpec(name, kind, low, high, step, log), where)


def _checked(p: ParamSpec, where: str) -> ParamSpec:
    if p.low >= p.high:
        raise ConfigValidationError(f"{where}: LOW must be below HIGH")
    if p.step is not None and p.step <= 0:
        raise ConfigValidationError(f"{where}: STEP must be > 0")
    if p.log and p.low <= 0:
        raise ConfigValidationError(f"{where}: a log range needs LOW > 0")
    if p.log and p.step is not None:
        raise ConfigValidationError(f"{where}: a log range takes no STEP")
    if p.step is not None and p.step > p.high - p.low:
        raise ConfigValidationError(f"{where}: STEP is larger than the range")
    return p


def parse_param(item: str) -> ParamSpec:
    """Parse one ``--param NAME=SPEC`` flag (a malformed one raises, naming it)."""
    name, sep, spec = item.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ConfigValidationError(
            f"--param {item!r}: expected NAME=LOW:HIGH[:STEP|:log] or NAME=A,B,C"
        )
    return parse_spec(name, spec, f"--param {item!r}")


def _yaml_entry(name: str, value: Any, where: str) -> ParamSpec:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return parse_spec(name, str(value), where)
    if isinstance(value, bool):
        return ParamSpec(name, "categorical", choices=(str(value).lower(),))
    if isinstance(value, list) and value:
        return parse_spec(name, ",".join(str(v).lower() if isinstance(v, bool) else str(v)
                                         for v in value), where)  # fmt: skip
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"low", "high", "step", "log"})
        if unknown or "low" not in value or "high" not in value:
            raise ConfigValidationError(
                f"{where}: expected a mapping with low, high and optionally step, log"
                + (f" (unknown: {', '.join(map(str, unknown))})" if unknown else "")
            )
        parts = [str(value["low"]), str(value["high"])]
        if value.get("step") is not None:
            parts.append(str(value["step"]))
        if value.get("log"):
            parts.append("log")
        return parse_spec(name, ":".join(parts), where)
    raise ConfigValidationError(f"{where}: expected a range string, a list or a mapping")


def load_space_file(path: Path) -> list[ParamSpec]:
    """Read a YAML search space: ``params: {name: "5:50" | [a, b] | {low, high, ...}}``."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigValidationError(f"--space {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else "invalid YAML"
        raise ConfigValidationError(f"--space {path}: {first}") from None
    if isinstance(data, dict) and "params" in data:
        data = data["params"]
    if not isinstance(data, dict) or not data:
        raise ConfigValidationError(f"--space {path}: expected a mapping 'params: {{NAME: RANGE}}'")
    return [_yaml_entry(str(k), v, f"--space {path}: {k}") for k, v in data.items()]


def build_space(items: list[str], space_file: Path | None) -> list[ParamSpec]:
    """Combine ``--space`` and ``--param`` (a flag overrides the file's entry of that name)."""
    specs: dict[str, ParamSpec] = {}
    if space_file is not None:
        specs |= {p.name: p for p in load_space_file(space_file)}
    for item in items:
        p = parse_param(item)
        specs[p.name] = p
    if not any(not p.fixed for p in specs.values()):
        raise ConfigValidationError(
            "--param: nothing to search; give a range, e.g. --param fast=5:50 "
            "--param slow=20:200:10"
        )
    return list(specs.values())


def grid_space(specs: list[ParamSpec]) -> dict[str, list[Any]]:
    """Return the grid sampler's search space (every searched parameter's values)."""
    grid = {p.name: p.grid_values() for p in specs if not p.fixed}
    size = math.prod(len(v) for v in grid.values())
    if size > MAX_GRID_POINTS:
        raise ConfigValidationError(
            f"--sampler grid: {size:,} points (more than {MAX_GRID_POINTS:,}); use larger steps"
        )
    return grid


def grid_size(specs: list[ParamSpec]) -> int:
    """Return the number of grid points."""
    return math.prod(len(v) for v in grid_space(specs).values())


def split_values(
    specs: list[ParamSpec], values: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """Split chosen values into (strategy params, config ``--set`` fields)."""
    params = {p.name: values[p.name] for p in specs if not p.is_config_field and p.name in values}
    sets = {p.name: values[p.name] for p in specs if p.is_config_field and p.name in values}
    return params, sets


def fixed_values(specs: list[ParamSpec]) -> dict[str, str]:
    """Return the fixed parameters' values."""
    return {p.name: p.choices[0] for p in specs if p.fixed}


def sample_values(specs: list[ParamSpec]) -> dict[str, str]:
    """Return one valid value per parameter (the low end), to check names before a study."""
    out: dict[str, str] = {}
    for p in specs:
        if p.kind == "categorical":
            out[p.name] = p.choices[0]
        elif p.kind == "int":
            out[p.name] = str(int(p.low))
        else:
            out[p.name] = _num(p.low)
    return out
