"""Escalation rules as data: config/escalation_rules.yml, a small safe condition language.

A rule is ``{name, when, reason}``; ``when`` is an expression over *facts* (the triage of the
customer's latest message plus the state of the conversation, see :data:`FACTS`). Rules are
evaluated top to bottom and the first one that holds decides.

The language, parsed here by a recursive-descent parser (never ``eval``)::

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | compare
    compare := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") operand)?
    operand := NUMBER | STRING | true | false | null | "[" literals "]" | FACT | "(" expr ")"

A bare operand is a truth test (``verified``, ``needs_backend``). Comparing a missing value
(null) with ``<`` and friends is false, never an error. Files are validated completely when
loaded: syntax, unknown facts, and values a fact can never take (``intent == "refund"`` when
there is no such intent in domain.yml, ``tier == "gold"``, ``"shouting" in churn_signals``).
A bad file raises :class:`RulesFileError` naming the file, the rule and the column.
"""
from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Sequence, Tuple

import yaml

from actions.config import PROJECT_ROOT

logger = logging.getLogger(__name__)

DEFAULT_RULES_PATH = PROJECT_ROOT / "config" / "escalation_rules.yml"

# --- vocabularies shared with actions/triage.py ----------------------------------------------

RISK_CLASSES = frozenset({"low", "high"})
URGENCIES = frozenset({"low", "normal", "high", "critical"})
TIERS = frozenset({"standard", "vip"})
PRODUCT_AREAS = frozenset(
    {"orders", "shipping", "returns", "refunds", "billing", "membership", "account", "technical",
     "legal", "security", "general"}
)
#: what triage notices in a message, besides the intent (see actions/triage.py for the cues)
SIGNALS = frozenset(
    {
        "wants_human", "legal", "security", "data_deletion", "billing_dispute", "policy_exception",
        "outage", "urgent", "profanity", "shouting", "exclamations", "negative_words",
        "repeat_complaint", "still_waiting", "threat_to_leave", "emotional", "card_number",
    }
)
CHURN_SIGNALS = frozenset(
    {"cancel_membership", "downgrade", "delete_account", "competitor", "never_again", "chargeback",
     "public_complaint"}
)
#: intents Rasa adds by itself, valid in conditions even though domain.yml does not list them (also the
#: only names config/intents.yml may list besides domain.yml's: Rasa's vocabulary, not the project's)
BUILTIN_INTENTS = frozenset({"nlu_fallback", "restart", "session_start", "back", "out_of_scope"})


@dataclass(frozen=True)
class Fact:
    kind: str  # "number" | "text" | "bool" | "list"
    description: str
    values: Optional[FrozenSet[str]] = None  # allowed text values / list members (None: free)


#: Every name a condition may use. docs/escalation.md renders the same list for designers.
FACTS: Dict[str, Fact] = {
    "intent": Fact("text", "intent of the latest customer message (nlu_fallback if not understood)"),
    "intent_confidence": Fact("number", "NLU confidence of that intent, 0..1"),
    "entities": Fact("list", "names of the entities in the latest message"),
    "risk_class": Fact("text", "low or high (triage)", RISK_CLASSES),
    "frustration": Fact("number", "customer frustration over the conversation, 0..1 (triage)"),
    "message_frustration": Fact("number", "frustration of the latest message alone, 0..1"),
    "urgency": Fact("text", "low, normal, high or critical (triage)", URGENCIES),
    "product_area": Fact("text", "area of the business the message is about", PRODUCT_AREAS),
    "signals": Fact("list", "cues triage found in the latest message", SIGNALS),
    "churn_signals": Fact("list", "signs the customer may leave", CHURN_SIGNALS),
    "tier": Fact("text", "customer tier from the backend (null until identified)", TIERS),
    "verified": Fact("bool", "identity verified in this conversation"),
    "kb_failed_count": Fact("number", "knowledge refusals in a row (slot kept by the knowledge action)"),
    "kb_refusal_reason": Fact("text", "why the knowledge base refused the previous question, if it did"),
    "failed_answers_in_a_row": Fact(
        "number", "bot turns in a row that failed: not understood (nlu_fallback) or knowledge refusal; "
        "counts the latest message when it is not understood"
    ),
    "consecutive_fallbacks": Fact("number", "customer messages in a row not understood (nlu_fallback), latest included"),
    "turn_count": Fact("number", "customer messages since the session started or the bot last got the conversation back"),
    "same_issue_count": Fact("number", "how often the customer raised the latest intent in this session"),
    "identity_failures": Fact("number", "failed identity checks (slot)"),
    "backend_errors": Fact("number", "times the backend could not be reached in this session"),
    "needs_backend": Fact("bool", "the latest intent needs data from the backend (needs_backend in config/intents.yml)"),
    "channel": Fact("text", "input channel: rest, socketio, twilio, ..."),
    "active_loop": Fact("text", "the form in progress, if any"),
}

# --- errors ------------------------------------------------------------------------------------


class RulesFileError(ValueError):
    """The escalation rules file cannot be used; the message says where and why."""


class ConditionError(ValueError):
    def __init__(self, message: str, column: Optional[int] = None) -> None:
        super().__init__(message)
        self.column = column

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} (at column {self.column})" if self.column is not None else text


# --- tokenizer ---------------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}


@dataclass(frozen=True)
class Token:
    kind: str  # number | string | op | word | keyword | end
    value: Any
    column: int  # 1-based


def tokenize(source: str) -> List[Token]:
    tokens: List[Token] = []
    position = 0
    while position < len(source):
        match = _TOKEN_RE.match(source, position)
        if not match:
            raise ConditionError(f"unexpected character {source[position]!r}", position + 1)
        kind = match.lastgroup
        text = match.group()
        column = position + 1
        position = match.end()
        if kind == "ws":
            continue
        if kind == "number":
            tokens.append(Token("number", float(text) if "." in text else int(text), column))
        elif kind == "string":
            body = text[1:-1]
            tokens.append(Token("string", re.sub(r"\\(.)", r"\1", body), column))
        elif kind == "word":
            tokens.append(Token("keyword" if text in _KEYWORDS else "word", text, column))
        else:
            tokens.append(Token("op", text, column))
    tokens.append(Token("end", None, len(source) + 1))
    return tokens


# --- parser: nodes are tuples ------------------------------------------------------------------
#   ("lit", value, col) ("list", [values], col) ("fact", name, col)
#   ("cmp", op, left, right, col) ("and", [nodes]) ("or", [nodes]) ("not", node) ("truth", node)

Node = Tuple[Any, ...]
_COMPARATORS = {"==", "!=", "<", "<=", ">", ">="}


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.index = 0

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def expect_op(self, value: str) -> Token:
        token = self.take()
        if token.kind != "op" or token.value != value:
            raise ConditionError(f"expected {value!r} but found {_describe(token)}", token.column)
        return token

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ConditionError("the condition is empty", 1)
        node = self.parse_or()
        token = self.peek()
        if token.kind != "end":
            raise ConditionError(f"unexpected {_describe(token)}; expected 'and', 'or' or the end", token.column)
        return node

    def parse_or(self) -> Node:
        items = [self.parse_and()]
        while self.peek().kind == "keyword" and self.peek().value == "or":
            self.take()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else ("or", items)

    def parse_and(self) -> Node:
        items = [self.parse_not()]
        while self.peek().kind == "keyword" and self.peek().value == "and":
            self.take()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else ("and", items)

    def parse_not(self) -> Node:
        token = self.peek()
        if token.kind == "keyword" and token.value == "not":
            self.take()
            return ("not", self.parse_not())
        return self.parse_compare()

    def parse_compare(self) -> Node:
        left = self.parse_operand()
        token = self.peek()
        op: Optional[str] = None
        if token.kind == "op" and token.value in _COMPARATORS:
            op = self.take().value
        elif token.kind == "keyword" and token.value == "in":
            self.take()
            op = "in"
        elif token.kind == "keyword" and token.value == "not":
            following = self.tokens[self.index + 1]
            if following.kind == "keyword" and following.value == "in":
                self.take()
                self.take()
                op = "not in"
        if op is None:
            return left if left[0] in ("and", "or", "not", "cmp", "truth") else ("truth", left)
        right = self.parse_operand()
        return ("cmp", op, left, right, token.column)

    def parse_operand(self) -> Node:
        token = self.take()
        if token.kind in ("number", "string"):
            return ("lit", token.value, token.column)
        if token.kind == "keyword" and token.value in ("true", "false", "null"):
            return ("lit", {"true": True, "false": False, "null": None}[token.value], token.column)
        if token.kind == "word":
            return ("fact", token.value, token.column)
        if token.kind == "op" and token.value == "(":
            node = self.parse_or()
            self.expect_op(")")
            return node
        if token.kind == "op" and token.value == "[":
            values: List[Any] = []
            if not (self.peek().kind == "op" and self.peek().value == "]"):
                while True:
                    item = self.take()
                    if item.kind in ("number", "string"):
                        values.append(item.value)
                    elif item.kind == "keyword" and item.value in ("true", "false", "null"):
                        values.append({"true": True, "false": False, "null": None}[item.value])
                    else:
                        raise ConditionError(f"a list holds only literal values, not {_describe(item)}", item.column)
                    if self.peek().kind == "op" and self.peek().value == ",":
                        self.take()
                        continue
                    break
            self.expect_op("]")
            return ("list", values, token.column)
        raise ConditionError(f"expected a value or a fact but found {_describe(token)}", token.column)


def _describe(token: Token) -> str:
    if token.kind == "end":
        return "the end of the condition"
    if token.kind == "string":
        return f'"{token.value}"'
    return repr(str(token.value))


def parse_condition(source: str) -> Node:
    if not isinstance(source, str):
        raise ConditionError(f"a condition must be a string, not {type(source).__name__}")
    return _Parser(source).parse()


# --- evaluation --------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value(node: Node, facts: Mapping[str, Any]) -> Any:
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "list":
        return list(node[1])
    if kind == "fact":
        return facts.get(node[1])
    return evaluate(node, facts)


def evaluate(node: Node, facts: Mapping[str, Any]) -> bool:
    kind = node[0]
    if kind == "or":
        return any(evaluate(item, facts) for item in node[1])
    if kind == "and":
        return all(evaluate(item, facts) for item in node[1])
    if kind == "not":
        return not evaluate(node[1], facts)
    if kind == "truth":
        return bool(_value(node[1], facts))
    if kind == "cmp":
        op, left, right = node[1], _value(node[2], facts), _value(node[3], facts)
        if op == "==":
            return left == right
        if op == "!=":
            return left != right
        if op in ("in", "not in"):
            found = isinstance(right, (list, tuple, set, frozenset)) and left in right
            return found if op == "in" else not found
        if not (_is_number(left) and _is_number(right)):
            return False
        return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
    return bool(_value(node, facts))


# --- validation --------------------------------------------------------------------------------


def _check_node(node: Node, intents: Optional[FrozenSet[str]]) -> None:
    kind = node[0]
    if kind in ("or", "and"):
        for item in node[1]:
            _check_node(item, intents)
    elif kind in ("not", "truth"):
        _check_node(node[1], intents)
    elif kind == "fact":
        if node[1] not in FACTS:
            known = ", ".join(sorted(FACTS))
            raise ConditionError(f"unknown fact {node[1]!r}; known facts: {known}", node[2])
    elif kind == "cmp":
        _check_node(node[2], intents)
        _check_node(node[3], intents)
        _check_comparison(node, intents)


def _allowed(name: str, intents: Optional[FrozenSet[str]]) -> Optional[FrozenSet[str]]:
    if name == "intent":
        return intents
    return FACTS[name].values


def _check_comparison(node: Node, intents: Optional[FrozenSet[str]]) -> None:
    op, left, right, column = node[1], node[2], node[3], node[4]
    if op in _COMPARATORS - {"==", "!="}:
        for side in (left, right):
            if side[0] == "fact" and FACTS[side[1]].kind != "number":
                raise ConditionError(f"{op!r} needs numbers, but {side[1]!r} is {FACTS[side[1]].kind}", column)
            if side[0] in ("lit", "list") and not _is_number(side[1]):
                raise ConditionError(f"{op!r} needs numbers, not {side[1]!r}", column)
        return
    if op in ("==", "!="):
        pairs = [(left, right), (right, left)]
        for fact, literal in pairs:
            if fact[0] == "fact" and literal[0] == "lit" and literal[1] is not None:
                spec = FACTS[fact[1]]
                if spec.kind == "number" and not _is_number(literal[1]):
                    raise ConditionError(f"{fact[1]!r} is a number; cannot compare it with {literal[1]!r}", column)
                if spec.kind == "list":
                    raise ConditionError(f"{fact[1]!r} is a list; use 'in' to test for a member", column)
                _check_member(fact[1], [literal[1]], intents, column)
        return
    # in / not in
    if right[0] == "fact":
        spec = FACTS[right[1]]
        if spec.kind != "list":
            raise ConditionError(f"'{op}' needs a list on the right, but {right[1]!r} is {spec.kind}", column)
        if left[0] == "lit":
            _check_member(right[1], [left[1]], intents, column)
    elif right[0] == "list":
        if left[0] == "fact":
            _check_member(left[1], right[1], intents, column)
    else:
        raise ConditionError(f"'{op}' needs a list or a list fact on the right", column)


def _check_member(name: str, values: Sequence[Any], intents: Optional[FrozenSet[str]], column: int) -> None:
    allowed = _allowed(name, intents)
    if allowed is None:
        return
    for value in values:
        if value is not None and value not in allowed:
            raise ConditionError(
                f"{name!r} is never {value!r}; possible values: {', '.join(sorted(allowed))}", column
            )


def domain_intents(domain_path: Optional[Path] = None) -> Optional[FrozenSet[str]]:
    """Intents declared in domain.yml plus Rasa's own; None if the domain cannot be read."""
    path = domain_path or Path(os.environ.get("DOMAIN_PATH", "") or PROJECT_ROOT / "domain.yml")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None
    names = set(BUILTIN_INTENTS)
    for item in data.get("intents") or []:
        names.add(next(iter(item)) if isinstance(item, dict) else str(item))
    return frozenset(names)


# --- the rule set ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    name: str
    when: str
    reason: str
    condition: Node = field(repr=False, compare=False)

    def fires(self, facts: Mapping[str, Any]) -> bool:
        try:
            return evaluate(self.condition, facts)
        except Exception:  # a fact of an unexpected type must not take the turn down
            logger.exception("escalation rule %s could not be evaluated", self.name)
            return False


@dataclass(frozen=True)
class RuleSet:
    version: str
    rules: Tuple[Rule, ...]
    path: Optional[Path] = None

    def first_match(self, facts: Mapping[str, Any]) -> Optional[Rule]:
        for rule in self.rules:
            if rule.fires(facts):
                return rule
        return None

    def matching(self, facts: Mapping[str, Any]) -> List[str]:
        """Names of every rule that holds (for tests and explanations; the first one decides)."""
        return [rule.name for rule in self.rules if rule.fires(facts)]

    def get(self, name: str) -> Optional[Rule]:
        return next((rule for rule in self.rules if rule.name == name), None)


_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def parse_rules(data: Any, source: str = "<rules>", intents: Optional[FrozenSet[str]] = None) -> RuleSet:
    """Validate a loaded YAML document completely and build the rule set."""

    def fail(message: str) -> RulesFileError:
        return RulesFileError(f"{source}: {message}")

    if not isinstance(data, dict):
        raise fail("expected a mapping with 'version' and 'rules'")
    unknown = set(data) - {"version", "rules"}
    if unknown:
        raise fail(f"unknown top-level key(s): {', '.join(sorted(map(str, unknown)))} (allowed: version, rules)")
    version = data.get("version")
    if version is None or (isinstance(version, str) and not version.strip()) or isinstance(version, (bool, list, dict)):
        raise fail("'version' is missing or empty; give the file a version, e.g. version: \"2024.06-1\"")
    rules_data = data.get("rules")
    if not isinstance(rules_data, list) or not rules_data:
        raise fail("'rules' must be a non-empty list")
    rules: List[Rule] = []
    seen: Dict[str, int] = {}
    for index, item in enumerate(rules_data, start=1):
        label = f"rule {index}"
        if not isinstance(item, dict):
            raise fail(f"{label}: expected a mapping with name, when and reason")
        if isinstance(item.get("name"), str):
            label = f"rule {index} ({item['name']!r})"
        extra = set(item) - {"name", "when", "reason"}
        if extra:
            raise fail(f"{label}: unknown key(s) {', '.join(sorted(map(str, extra)))} (allowed: name, when, reason)")
        for key in ("name", "when", "reason"):
            value = item.get(key)
            if not isinstance(value, str) or not value.strip():
                raise fail(f"{label}: '{key}' is missing or not a non-empty string")
        name = item["name"].strip()
        if not _NAME_RE.match(name):
            raise fail(f"{label}: name must be lower_snake_case (letters, digits, _)")
        if name in seen:
            raise fail(f"{label}: duplicate name, already used by rule {seen[name]}")
        seen[name] = index
        try:
            condition = parse_condition(item["when"])
            _check_node(condition, intents)
        except ConditionError as error:
            raise fail(f"{label}: when: {error}\n    {item['when']}") from None
        rules.append(Rule(name=name, when=item["when"].strip(), reason=item["reason"].strip(), condition=condition))
    return RuleSet(version=str(version), rules=tuple(rules))


def rules_path() -> Path:
    explicit = os.environ.get("ESCALATION_RULES", "").strip()
    if not explicit:
        return DEFAULT_RULES_PATH
    path = Path(explicit)
    return path if path.is_absolute() else PROJECT_ROOT / path


def load_rules(path: Optional[Path] = None, intents: Optional[FrozenSet[str]] = None) -> RuleSet:
    """Read and validate a rules file; raises RulesFileError with a clear message."""
    path = Path(path or rules_path())
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RulesFileError(f"{path}: cannot read the escalation rules file ({error.strerror or error})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise RulesFileError(f"{path}: not valid YAML: {error}") from None
    ruleset = parse_rules(data, str(path), intents if intents is not None else domain_intents())
    return RuleSet(ruleset.version, ruleset.rules, path)


_lock = threading.Lock()
_ruleset: Optional[RuleSet] = None


def get_rules() -> RuleSet:
    """The process-wide rule set, loaded on first use (the server loads it at start-up)."""
    global _ruleset
    if _ruleset is None:
        with _lock:
            if _ruleset is None:
                _ruleset = load_rules()
                logger.info("escalation rules %s loaded from %s (%d rules)", _ruleset.version, _ruleset.path, len(_ruleset.rules))
    return _ruleset


def set_rules(ruleset: Optional[RuleSet]) -> None:
    """Replace the process-wide rule set (tests; None reloads from the file on next use)."""
    global _ruleset
    _ruleset = ruleset


def rules_version() -> Optional[str]:
    try:
        return get_rules().version
    except RulesFileError:
        return None
