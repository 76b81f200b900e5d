"""The simulated study behind `divtui demo`: word problems, a sampler and a reward model, seeded.

Problems are procedurally generated grade-school word problems whose solution is a small chain
of arithmetic steps, so the gold answer is exact. The sampler imitates a language model at
temperature T: every choice it makes (strategy, phrasing, connectives, symbols, filler
sentences, answer format) is drawn from ``softmax(logits / T)`` while its recorded log-prob is
the untempered ``log softmax(logits)`` (raw model log-probs, as vLLM returns), so higher T gives
more varied text and lower log-probs. Slips (arithmetic errors, misread quantities, dropped
steps, the problem's own typical mistake) grow with T and with difficulty. The reward is a noisy
probability that is higher for correct samples (AUC about 0.8).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import pandas as pd

TEMPERATURES = (0.3, 0.5, 0.7, 1.0)
N_PROBLEMS = 40
N_SAMPLES = 32
DATASET = "sim-gsm"
SCORER = "sim-orm (simulated)"
STRATEGIES = ("stepwise", "direct", "backcheck", "equation")
STRATEGY_LOGITS = (0.0, -0.9, -1.7, -2.3)
OP_WORDS = {"*": "multiply", "/": "divide", "+": "add", "-": "subtract"}
OP_SYMBOLS = {
    "*": (("×", 0.0), ("*", -1.0), ("\\times", -1.8), ("x", -2.6)),
    "/": (("÷", 0.0), ("/", -0.7)),
    "+": (("+", 0.0),),
    "-": (("-", 0.0), ("−", -2.5)),
}
FIRST = (("First,", 0.0), ("To start,", -1.0), ("Step 1:", -1.4), ("To begin,", -2.4))
MIDDLE = (("Then", 0.0), ("Next,", -0.6), ("After that,", -1.3), ("Now", -1.8), ("So", -2.2))
LAST = (("Finally,", 0.0), ("So", -0.8), ("Therefore,", -1.2), ("That means", -2.0))
OPENERS = (
    ("", 0.0),
    ("Let's solve this step by step.", -0.6),
    ("We need to find {goal}.", -1.1),
    ("Let me work through the problem carefully.", -1.8),
    ("Read the question again: we want {goal}.", -2.6),
)
FILLERS = (
    ("", 0.0),
    ("Let me double-check the numbers in the question.", -2.6),
    ("This needs a few steps, so I will go slowly.", -2.9),
    ("Units matter here, so keep track of them.", -3.1),
    ("Hmm, let me think about what is being asked.", -3.3),
)
LINE_FORMS = (
    ("{conn} {label} is {expr} = {v}.", 0.0),
    ("{conn} we {verb} to get {label}: {expr} = {v}.", -1.0),
    ("{conn} {expr} = {v}, which is {label}.", -1.5),
    ("{conn} {label}: {expr} = {v}", -2.2),
)
CLOSINGS = (
    ("The answer is $\\boxed{{{x}}}$.", 0.0),
    ("So the answer is \\boxed{{{x}}}.", -0.7),
    ("Therefore, the final answer is $\\boxed{{{x}}}$.", -1.3),
    ("\\boxed{{{x}}}", -2.4),
)
FORMAT_LOGITS = (("boxed", 0.0), ("final", -2.8), ("none", -5.0))
SLIP_PENALTY = float(np.log(0.2))
SWAPPED = {"+": "-", "-": "+", "*": "/", "/": "*"}
TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Step:
    """One arithmetic step: ``label = a op b``; a and b name parameters or earlier steps (s0...)."""

    label: str
    op: str
    a: str
    b: str


@dataclass(frozen=True)
class Problem:
    """A generated word problem with its solution chain and its simulated difficulty."""

    problem_id: str
    template: str
    question: str
    goal: str
    params: dict[str, Fraction]
    steps: tuple[Step, ...]
    gold: Fraction
    difficulty: float
    systematic: tuple[str, str]
    sys_rate: float
    visible: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class SimSample:
    """One simulated solution with what the simulator intended and its reward."""

    text: str
    n_tokens: int
    sum_logprob: float
    mean_logprob: float
    finish_reason: str
    answer: str | None
    correct: bool
    reward: float


def fmt(x: Fraction) -> str:
    """A number as a model would write it: integer, finite decimal, or \\frac{p}{q}."""
    if x.denominator == 1:
        return str(x.numerator)
    d, twos, fives = x.denominator, 0, 0
    while d % 2 == 0:
        d, twos = d // 2, twos + 1
    while d % 5 == 0:
        d, fives = d // 5, fives + 1
    sign = "-" if x < 0 else ""
    if d == 1:  # a finite decimal: written out exactly, however many places it needs
        places = max(twos, fives)
        digits = str(abs(x.numerator) * 10**places // x.denominator).rjust(places + 1, "0")
        return f"{sign}{digits[:-places]}.{digits[-places:]}".rstrip("0")
    return f"{sign}\\frac{{{abs(x.numerator)}}}{{{x.denominator}}}"


NAMES = ("Maria", "Tom", "Aisha", "Ken", "Lucia", "Omar", "Priya", "Sam", "Noor", "Ivan")


def _rate(rng: np.random.Generator) -> tuple:
    """Production rate over hours and days."""
    r, h, d = int(rng.integers(6, 40)), int(rng.integers(3, 10)), int(rng.integers(2, 8))
    q = (
        f"A bakery makes {r} loaves of bread every hour. It bakes for {h} hours each day. "
        f"How many loaves does it make in {d} days?"
    )
    steps = (Step("the loaves per day", "*", "r", "h"), Step("the loaves in all", "*", "s0", "d"))
    return q, "the number of loaves", {"r": r, "h": h, "d": d}, steps, ("r", "h", "d")


def _purchase(rng: np.random.Generator) -> tuple:
    """Cost of two items and the change from a bill."""
    name = NAMES[int(rng.integers(len(NAMES)))]
    a, p, b, c = (int(rng.integers(2, 7)), int(rng.integers(2, 9)), int(rng.integers(2, 9)), 0)
    c = int(rng.integers(1, 4))
    total = a * p + b * c
    bill = 50 if total < 50 else 100
    q = (
        f"{name} buys {a} notebooks at ${p} each and {b} pens at ${c} each. "
        f"{name} pays with a ${bill} bill. How much change does {name} get, in dollars?"
    )
    steps = (
        Step("the cost of the notebooks", "*", "a", "p"),
        Step("the cost of the pens", "*", "b", "c"),
        Step("the total cost", "+", "s0", "s1"),
        Step("the change", "-", "bill", "s2"),
    )
    params = {"a": a, "p": p, "b": b, "c": c, "bill": bill}
    return q, "the change", params, steps, ("a", "p", "b", "c")


def _ages(rng: np.random.Generator) -> tuple:
    """Ages now and in the future."""
    x, y, b_now = int(rng.integers(2, 15)), int(rng.integers(2, 12)), int(rng.integers(5, 40))
    z = b_now + x + y
    n1, n2 = rng.choice(len(NAMES), size=2, replace=False)
    a_name, b_name = NAMES[int(n1)], NAMES[int(n2)]
    q = (
        f"{a_name} is {x} years older than {b_name}. In {y} years, {a_name} will be {z} "
        f"years old. How old is {b_name} now?"
    )
    steps = (
        Step(f"{a_name}'s age now", "-", "z", "y"),
        Step(f"{b_name}'s age now", "-", "s0", "x"),
    )
    return q, f"{b_name}'s age", {"x": x, "y": y, "z": z}, steps, ("x", "y", "z")


def _fraction(rng: np.random.Generator) -> tuple:
    """Selling a fraction of a flock, then buying more."""
    b = int(rng.choice([3, 4, 5, 6, 8]))
    a = int(rng.integers(1, b))
    n = b * int(rng.integers(4, 20))
    m = int(rng.integers(3, 30))
    q = (
        f"A farm has {n} sheep. The farmer sells {a}/{b} of them and then buys {m} more. "
        f"How many sheep are on the farm now?"
    )
    steps = (
        Step("one part of the flock", "/", "n", "b"),
        Step("the sheep sold", "*", "s0", "a"),
        Step("the sheep left", "-", "n", "s1"),
        Step("the sheep now", "+", "s2", "m"),
    )
    return q, "the number of sheep", {"n": n, "a": a, "b": b, "m": m}, steps, ("n", "m")


def _conversion(rng: np.random.Generator) -> tuple:
    """Meters to centimeters, then equal pieces."""
    c = int(rng.choice([5, 8, 10, 12, 15, 20, 25]))
    k = int(rng.integers(6, 40))
    meters = Fraction(k * c, 100)
    name = NAMES[int(rng.integers(len(NAMES)))]
    q = (
        f"A ribbon is {fmt(meters)} meters long. {name} cuts it into pieces that are each "
        f"{c} centimeters long. How many pieces does {name} get?"
    )
    steps = (
        Step("the length in centimeters", "*", "m", "cm"),
        Step("the number of pieces", "/", "s0", "c"),
    )
    return q, "the number of pieces", {"m": meters, "cm": 100, "c": c}, steps, ("m", "c")


def _speed(rng: np.random.Generator) -> tuple:
    """Distance over two legs at two speeds."""
    v, t = int(rng.integers(30, 90)), int(rng.integers(2, 6))
    w, s = int(rng.integers(20, 80)), int(rng.integers(1, 5))
    q = (
        f"A train travels at {v} km per hour for {t} hours, then at {w} km per hour for "
        f"{s} hours. How many kilometers does it travel in total?"
    )
    steps = (
        Step("the first distance", "*", "v", "t"),
        Step("the second distance", "*", "w", "s"),
        Step("the total distance", "+", "s0", "s1"),
    )
    return q, "the total distance", {"v": v, "t": t, "w": w, "s": s}, steps, ("v", "t", "w", "s")


def _discount(rng: np.random.Generator) -> tuple:
    """A percentage discount on a price."""
    p = 20 * int(rng.integers(2, 15))
    d = int(rng.choice([10, 15, 20, 25, 30, 40]))
    q = f"A jacket costs ${p}. It is on sale for {d}% off. How many dollars does it cost on sale?"
    steps = (
        Step("the price times the percent", "*", "p", "d"),
        Step("the discount", "/", "s0", "hundred"),
        Step("the sale price", "-", "p", "s1"),
    )
    return q, "the sale price", {"p": p, "d": d, "hundred": 100}, steps, ("p", "d")


def _sharing(rng: np.random.Generator) -> tuple:
    """Crayons shared equally."""
    n = int(rng.integers(3, 12))
    k = int(rng.choice([8, 12, 16, 24]))
    each = int(rng.integers(2, 12))
    total = n * each
    while total % k:
        total += n
    c = total // k
    q = (
        f"{n} students share {c} boxes of crayons. Each box holds {k} crayons. If the crayons "
        f"are shared equally, how many crayons does each student get?"
    )
    steps = (
        Step("the total number of crayons", "*", "c", "k"),
        Step("the crayons per student", "/", "s0", "n"),
    )
    return q, "the crayons per student", {"n": n, "c": c, "k": k}, steps, ("n", "c", "k")


def _savings(rng: np.random.Generator) -> tuple:
    """Weekly savings minus a purchase."""
    a, w = int(rng.integers(5, 30)), int(rng.integers(3, 12))
    s = int(rng.integers(5, a * w))
    name = NAMES[int(rng.integers(len(NAMES)))]
    q = (
        f"{name} saves ${a} each week. After {w} weeks, {name} spends ${s} on a game. "
        f"How many dollars does {name} have left?"
    )
    steps = (Step("the money saved", "*", "a", "w"), Step("the money left", "-", "s0", "s"))
    return q, "the money left", {"a": a, "w": w, "s": s}, steps, ("a", "w", "s")


TEMPLATES = {
    "rate": _rate,
    "purchase": _purchase,
    "ages": _ages,
    "fraction": _fraction,
    "conversion": _conversion,
    "speed": _speed,
    "discount": _discount,
    "sharing": _sharing,
    "savings": _savings,
}


def evaluate(
    params: dict[str, Fraction],
    steps: tuple[Step, ...],
    *,
    drop: int | None = None,
    swap: int | None = None,
    slips: dict[int, Fraction] | None = None,
) -> list[Fraction] | None:
    """Step values, with a dropped step, a swapped operation or arithmetic slips; None if /0."""
    values: list[Fraction] = []
    for j, st in enumerate(steps):
        a = values[int(st.a[1:])] if st.a.startswith("s") and st.a[1:].isdigit() else params[st.a]
        b = values[int(st.b[1:])] if st.b.startswith("s") and st.b[1:].isdigit() else params[st.b]
        op = SWAPPED[st.op] if j == swap else st.op
        if j == drop:
            v = a
        elif op == "/" and b == 0:
            return None
        else:
            v = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else a}[op]
        values.append(v + (slips or {}).get(j, 0))
    return values


def _exact(params: dict[str, Fraction], steps: tuple[Step, ...]) -> list[Fraction]:
    """Step values without mistakes; the templates never divide by zero, so None is a bug."""
    values = evaluate(params, steps)
    if values is None:
        raise ValueError(f"a template's own steps divide by zero: {params}")
    return values


def _systematic(
    rng: np.random.Generator, params: dict, steps: tuple, visible: tuple
) -> tuple[str, str]:
    """The problem's typical mistake: a dropped step, a swapped operation or a misread number."""
    gold = _exact(params, steps)[-1]
    for _ in range(20):
        kind = str(rng.choice(["drop", "swap", "misread"]))
        if kind == "misread":
            name = str(rng.choice(visible))
            p2 = {**params, name: _misread(rng, params[name])}
            vals = evaluate(p2, steps)
            if vals and vals[-1] != gold:
                return ("misread", f"{name}={p2[name]}")
            continue
        j = int(rng.integers(len(steps)))
        vals = evaluate(
            params, steps, drop=j if kind == "drop" else None, swap=j if kind == "swap" else None
        )
        if vals and vals[-1] != gold:
            return (kind, str(j))
    return ("none", "")


def _misread(rng: np.random.Generator, value: Fraction) -> Fraction:
    """A plausible misreading of a number: off by one or two, or two digits swapped."""
    digits = str(value.numerator) if value.denominator == 1 else ""
    if len(digits) >= 2 and digits[0] != digits[1] and rng.random() < 0.4:
        return Fraction(int(digits[1] + digits[0] + digits[2:]))
    delta = int(rng.choice([-2, -1, 1, 2]))
    return value + delta if value + delta > 0 else value + abs(delta)


def make_problems(n: int = N_PROBLEMS, seed: int = 0) -> list[Problem]:
    """``n`` word problems cycling through the templates, deterministic for ``seed``."""
    rng = np.random.default_rng([seed, 7919])
    names = list(TEMPLATES)
    problems = []
    for i in range(n):
        template = names[i % len(names)]
        question, goal, raw, steps, visible = TEMPLATES[template](rng)
        params = {k: Fraction(v) for k, v in raw.items()}
        gold = _exact(params, steps)[-1]
        size = float(np.log10(float(max(params.values()))))
        difficulty = float(
            np.clip(0.12 * len(steps) + 0.1 * size + rng.normal(0.05, 0.2), 0.05, 0.95)
        )
        sys_rate = float(np.clip(1.0 * difficulty - 0.3 + rng.normal(0, 0.1), 0.0, 0.65))
        problems.append(
            Problem(
                problem_id=f"sim-{i:03d}",
                template=template,
                question=question,
                goal=goal,
                params=params,
                steps=steps,
                gold=gold,
                difficulty=difficulty,
                systematic=_systematic(rng, params, steps, visible),
                sys_rate=sys_rate,
                visible=visible,
            )
        )
    return problems


def choose(
    rng: np.random.Generator, options: tuple[tuple[str, float], ...], temperature: float
) -> tuple[str, float]:
    """Draw an option from softmax(logits / T); return it with its untempered log-prob."""
    logits = np.array([lg for _, lg in options])
    tempered = np.exp((logits - logits.max()) / temperature)
    j = int(rng.choice(len(options), p=tempered / tempered.sum()))
    raw = logits - logits.max()
    return options[j][0], float(raw[j] - np.log(np.exp(raw).sum()))


def _expr(problem: Problem, params: dict[str, Fraction], j: int, sym: dict[str, str]) -> str:
    """The nested arithmetic expression of step ``j`` in terms of the problem's numbers."""
    st = problem.steps[j]

    def side(ref: str) -> str:
        """One operand: a number, or a parenthesised earlier step."""
        if ref.startswith("s") and ref[1:].isdigit():
            return f"({_expr(problem, params, int(ref[1:]), sym)})"
        return fmt(params[ref])

    return f"{side(st.a)} {sym[st.op]} {side(st.b)}"


def _operand(ref: str, params: dict[str, Fraction], values: list[Fraction]) -> Fraction:
    """Value of a parameter or an earlier step."""
    return values[int(ref[1:])] if ref.startswith("s") and ref[1:].isdigit() else params[ref]


def _mistakes(
    problem: Problem, t: float, rng: np.random.Generator
) -> tuple[dict[str, Fraction], int | None, int | None, dict[int, Fraction], int]:
    """The slips of one sample: (numbers as read, dropped step, swapped step, arithmetic slips, count)."""
    d = problem.difficulty
    params = dict(problem.params)
    drop = swap = None
    slips: dict[int, Fraction] = {}
    count = 0
    kind, what = problem.systematic
    if kind != "none" and rng.random() < problem.sys_rate * (0.7 + 0.5 * t):
        count += 1
        if kind == "misread":
            name, value = what.split("=")
            params[name] = Fraction(value)
        elif kind == "drop":
            drop = int(what)
        else:
            swap = int(what)
    for name in problem.visible:
        if rng.random() < 0.004 + 0.05 * d * t**2:
            params[name] = _misread(rng, params[name])
            count += 1
    for j in range(len(problem.steps)):
        if rng.random() < 0.006 + 0.07 * d * t**2:
            slips[j] = Fraction(int(rng.choice([-10, -2, -1, 1, 2, 10])))
            count += 1
    if drop is None and len(problem.steps) > 2 and rng.random() < 0.03 * d * t**2:
        drop = int(rng.integers(len(problem.steps) - 1))
        count += 1
    return params, drop, swap, slips, count


def _check_line(
    problem: Problem, params: dict[str, Fraction], values: list[Fraction], sym: dict[str, str]
) -> str:
    """A backwards check: undo the last step and name what it gives back."""
    st = problem.steps[-1]
    final, b = values[-1], _operand(st.b, params, values)
    back = {"*": final / b if b else final, "/": final * b, "+": final - b, "-": final + b}
    a_is_step = st.a.startswith("s") and st.a[1:].isdigit()
    what = problem.steps[int(st.a[1:])].label if a_is_step else "the number in the question"
    return (
        f"Check: {fmt(final)} {sym[SWAPPED[st.op]]} {fmt(b)} = {fmt(back[st.op])}, which is {what}."
    )


def _body(
    problem: Problem,
    strategy: str,
    mistakes: tuple[dict[str, Fraction], int | None, int | None],
    values: list[Fraction],
    sym: dict[str, str],
    t: float,
    rng: np.random.Generator,
) -> tuple[list[str], float]:
    """The solution's lines before the final answer, with the log-prob of the choices made."""
    params, drop, swap = mistakes
    lines: list[str] = []
    lp = 0.0
    for options in (OPENERS, FILLERS):
        line, c = choose(rng, options, t)
        lp += c
        if line:
            lines.append(line.format(goal=problem.goal))
    if strategy in ("direct", "equation"):
        expr = _direct(problem, params, sym, values)
        if strategy == "direct":
            return [*lines, f"{problem.goal[0].upper()}{problem.goal[1:]} = {expr}."], lp
        return [*lines, f"Let x be {problem.goal}.", f"Then x = {expr}."], lp
    shown = [j for j in range(len(problem.steps)) if j != drop]
    for pos, j in enumerate(shown):
        st = problem.steps[j]
        conns = FIRST if pos == 0 else (LAST if pos == len(shown) - 1 else MIDDLE)
        conn, c1 = choose(rng, conns, t)
        form, c2 = choose(rng, LINE_FORMS, t)
        lp += c1 + c2
        op = SWAPPED[st.op] if swap == j else st.op
        a, b = _operand(st.a, params, values), _operand(st.b, params, values)
        line = form.format(
            conn=conn,
            label=st.label,
            expr=f"{fmt(a)} {sym[op]} {fmt(b)}",
            v=fmt(values[j]),
            verb=OP_WORDS[op],
        )
        lines.append(line[0].upper() + line[1:])
    if strategy == "backcheck":
        lines.append(_check_line(problem, params, values, sym))
    return lines, lp


def sample_one(problem: Problem, temperature: float, rng: np.random.Generator) -> SimSample:
    """One simulated solution of ``problem`` at ``temperature``."""
    t, d = float(temperature), problem.difficulty
    strategy, lp = choose(rng, tuple(zip(STRATEGIES, STRATEGY_LOGITS, strict=True)), t)
    sym = {}
    for op, opts in OP_SYMBOLS.items():
        sym[op], c = choose(rng, opts, t)
        lp += c
    params, drop, swap, slips, n_slips = _mistakes(problem, t, rng)
    values = evaluate(params, problem.steps, drop=drop, swap=swap, slips=slips)
    if values is None:
        params, drop, swap, n_slips = dict(problem.params), None, None, 0
        values = _exact(params, problem.steps)
    lines, c = _body(problem, strategy, (params, drop, swap), values, sym, t, rng)
    lp += c
    final = values[-1]
    fmt_choice, c = choose(rng, FORMAT_LOGITS, t)
    lp += c
    answer: str | None = fmt(final)
    finish = "stop"
    if fmt_choice == "boxed":
        closing, c = choose(rng, CLOSINGS, t)
        lp += c
        lines.append(closing.format(x=answer))
    elif fmt_choice == "final":
        lines.append(f"The final answer is {answer}")
    else:
        answer = None
    if len(lines) >= 2 and rng.random() < 0.03 * t**3:
        lines, answer, finish = lines[: int(rng.integers(1, len(lines)))], None, "length"
    text = "\n".join(lines)
    n_tokens = len(TOKEN.findall(text))
    base = -(0.06 + 0.12 * d) - 0.1 * t * t
    noise = float(rng.normal(0, 0.03 * np.sqrt(n_tokens)))
    sum_lp = lp + n_slips * SLIP_PENALTY + n_tokens * base + noise
    correct = answer is not None and final == problem.gold
    logit = -0.4 + 1.15 * correct + 0.6 * (sum_lp / n_tokens - base) + float(rng.normal(0, 1.0))
    return SimSample(
        text=text,
        n_tokens=n_tokens,
        sum_logprob=float(sum_lp),
        mean_logprob=float(sum_lp / n_tokens),
        finish_reason=finish,
        answer=answer,
        correct=bool(correct),
        reward=float(1 / (1 + np.exp(-logit))),
    )


def _direct(
    problem: Problem, params: dict[str, Fraction], sym: dict[str, str], values: list[Fraction]
) -> str:
    """One-line solution: the nested expression of the last step, then its (possibly slipped) value."""
    return f"{_expr(problem, params, len(problem.steps) - 1, sym)} = {fmt(values[-1])}"


def sample_pool(
    problem: Problem, temperature: float, n: int = N_SAMPLES, seed: int = 0, index: int = 0
) -> list[SimSample]:
    """``n`` samples of one pool; deterministic for (seed, problem index, temperature)."""
    rng = np.random.default_rng([seed, index, round(temperature * 1000)])
    return [sample_one(problem, temperature, rng) for _ in range(n)]


def simulate_study(
    *,
    n_problems: int = N_PROBLEMS,
    temperatures: tuple[float, ...] = TEMPERATURES,
    n_samples: int = N_SAMPLES,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(problems, samples) frames of the whole simulated study, ready for the store's columns.

    The samples frame also carries ``answer``/``correct`` as the simulator intended them and
    ``reward``; the demo stores the first two as ``source_answer``/``source_correct``.
    """
    problems = make_problems(n_problems, seed)
    prob_rows = [
        {
            "problem_id": p.problem_id,
            "dataset": DATASET,
            "question": p.question,
            "gold_answer": fmt(p.gold),
            "level": f"Level {1 + min(4, int(p.difficulty * 5))}",
            "subject": p.template,
            "meta": json.dumps(
                {
                    "difficulty": round(p.difficulty, 4),
                    "typical_mistake": list(p.systematic),
                    "typical_mistake_rate": round(p.sys_rate, 4),
                    "steps": [[s.label, s.op, s.a, s.b] for s in p.steps],
                    "params": {k: fmt(v) for k, v in p.params.items()},
                }
            ),
        }
        for p in problems
    ]
    rows = []
    for i, p in enumerate(problems):
        for t in temperatures:
            for idx, s in enumerate(sample_pool(p, t, n_samples, seed, i)):
                rows.append(
                    {
                        "problem_id": p.problem_id,
                        "temperature": float(t),
                        "idx": idx,
                        "text": s.text,
                        "n_tokens": s.n_tokens,
                        "sum_logprob": s.sum_logprob,
                        "mean_logprob": s.mean_logprob,
                        "finish_reason": s.finish_reason,
                        "answer": s.answer,
                        "correct": s.correct,
                        "reward": s.reward,
                    }
                )
    return pd.DataFrame(prob_rows), pd.DataFrame(rows)
