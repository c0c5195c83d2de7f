"""The small catalogue of tools a declarative workflow may name."""

from __future__ import annotations

import ast
import operator
from datetime import UTC, datetime
from typing import Any

from agents import FunctionTool, function_tool

_OPERATORS: dict[type[ast.AST], Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}
MAX_EXPONENT = 100


def evaluate(expression: str) -> float:
    """Evaluate arithmetic (+ - * / // % ** and parentheses) without ``eval``."""

    def walk(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
                raise ValueError("exponent too large")
            return float(_OPERATORS[type(node.op)](left, right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
            return float(_OPERATORS[type(node.op)](walk(node.operand)))
        raise ValueError("only numbers and + - * / // % ** ( ) are allowed")

    return walk(ast.parse(expression, mode="eval"))


@function_tool
def current_time() -> str:
    """Return the current date and time in UTC (ISO 8601)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@function_tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as `(12.5 * 4) / 3`."""
    try:
        return repr(evaluate(expression))
    except (ValueError, SyntaxError, ZeroDivisionError, OverflowError) as error:
        return f"error: {error}"


CATALOGUE: dict[str, FunctionTool] = {"current_time": current_time, "calculator": calculator}
