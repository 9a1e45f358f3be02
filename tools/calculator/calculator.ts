// A safe arithmetic evaluator for the calculate tool: tokenizer → recursive-descent parser → AST →
// evaluation. No eval / new Function (Workers forbid them anyway), and names are looked up in Maps,
// so "constructor" or "__proto__" are simply unknown names.
//
// Grammar, loosest binding first:
//   expression := term (("+" | "-") term)*
//   term       := unary (("*" | "/" | "%") unary)*
//   unary      := ("+" | "-") unary | power
//   power      := primary (("^" | "**") unary)?        right-associative; -2^2 = -(2^2), 2^-1 = 0.5
//   primary    := number | constant | name "(" [expression ("," expression)*] ")" | "(" expression ")"
//
// Positions in messages count characters from 1. Syntax errors are 400 invalid_arguments (the model
// should rewrite the expression); math errors (division by zero, overflow, out of domain) are 422.

import { ToolError } from "../../kit/index.js";

export const MAX_DEPTH = 100;
export const MAX_TOKENS = 500;

// ---------------------------------------------------------------------------------------------
// Tokens

type TokenKind = "number" | "name" | "op" | "(" | ")" | "," | "end";

interface Token {
  kind: TokenKind;
  /** Normalised text: "*" for "×", "(" for "（", "3" for "３". */
  text: string;
  /** 1-based character position in the original expression. */
  position: number;
  value?: number;
}

/** Look-alike characters models and users paste, mapped one-to-one so positions stay right. */
const ALIASES = new Map<string, string>([
  ["×", "*"],
  ["·", "*"],
  ["∙", "*"],
  ["÷", "/"],
  ["−", "-"], // U+2212 MINUS SIGN
  ["–", "-"], // en dash
  ["（", "("],
  ["）", ")"],
  ["，", ","],
  ["＋", "+"],
  ["－", "-"],
  ["＊", "*"],
  ["／", "/"],
  ["％", "%"],
  ["＾", "^"],
  ["．", "."],
  ["π", "pi"],
]);

function normalizeChar(char: string): string {
  const code = char.charCodeAt(0);
  if (code >= 0xff10 && code <= 0xff19) return String.fromCharCode(code - 0xff10 + 0x30); // full-width digits
  return ALIASES.get(char) ?? char;
}

const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
const isNameStart = (c: string | undefined) => c !== undefined && /^[A-Za-z_]$/.test(c);
const isNameChar = (c: string | undefined) => c !== undefined && /^[A-Za-z0-9_]$/.test(c);

export function tokenize(expression: string): Token[] {
  // One entry per UTF-16 unit of the input, so chars[i] is at position i + 1.
  const chars = [...expression].flatMap((char) => {
    const normal = normalizeChar(char);
    // Astral characters take two units; keep the count aligned with `expression.length`.
    return char.length === 2 ? [normal, ""] : [normal];
  });
  const tokens: Token[] = [];
  let i = 0;
  const push = (token: Token) => {
    tokens.push(token);
    if (tokens.length > MAX_TOKENS) {
      throw syntaxError(
        `The expression is too long: more than ${MAX_TOKENS} tokens (numbers, names, operators). Split it into smaller calculations.`,
        "too_many_tokens",
      );
    }
  };

  while (i < chars.length) {
    const c = chars[i] as string;
    const position = i + 1;
    if (c === "" || /^\s$/.test(c)) {
      i++;
      continue;
    }
    if (CONSTANTS.has(c) && c.length > 1) {
      // A symbol alias that spells a name (π → pi).
      push({ kind: "name", text: c, position });
      i++;
      continue;
    }
    if (isDigit(c) || (c === "." && isDigit(chars[i + 1]))) {
      let text = "";
      while (isDigit(chars[i])) text += chars[i++];
      if (chars[i] === ".") {
        text += chars[i++];
        while (isDigit(chars[i])) text += chars[i++];
        if (chars[i] === ".") {
          throw syntaxError(`Unexpected '.' at position ${i + 1}: a number can have only one decimal point.`);
        }
      }
      // Exponent only when digits follow ("1e3", "2.5E-4"); otherwise "e" is left for the parser.
      if ((chars[i] === "e" || chars[i] === "E") && (isDigit(chars[i + 1]) || (/^[+-]$/.test(chars[i + 1] ?? "") && isDigit(chars[i + 2])))) {
        text += chars[i++];
        if (chars[i] === "+" || chars[i] === "-") text += chars[i++];
        while (isDigit(chars[i])) text += chars[i++];
      }
      const value = Number(text);
      if (!Number.isFinite(value)) {
        throw mathError(`The number ${text} at position ${position} is too large (the limit is about 1.8e308).`, "overflow");
      }
      push({ kind: "number", text, position, value });
      continue;
    }
    if (isNameStart(c)) {
      let text = "";
      while (isNameChar(chars[i])) text += chars[i++];
      push({ kind: "name", text, position });
      continue;
    }
    if (c === "*" && chars[i + 1] === "*") {
      push({ kind: "op", text: "^", position });
      i += 2;
      continue;
    }
    if ("+-*/%^".includes(c)) {
      push({ kind: "op", text: c, position });
      i++;
      continue;
    }
    if (c === "(" || c === ")" || c === ",") {
      push({ kind: c, text: c, position });
      i++;
      continue;
    }
    throw syntaxError(
      `Unexpected character '${expression.slice(i, i + (chars[i + 1] === "" ? 2 : 1))}' at position ${position}. ` +
        `Use numbers, + - * / % ^, parentheses, and the listed functions and constants.`,
    );
  }
  tokens.push({ kind: "end", text: "", position: expression.length + 1 });
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Names

interface FunctionSpec {
  /** Fewest and most arguments; max Infinity for variadic. */
  min: number;
  max: number;
  apply(args: number[]): number;
  usage: string;
}

const fn1 = (f: (x: number) => number, usage: string): FunctionSpec => ({
  min: 1,
  max: 1,
  apply: ([x]) => f(x as number),
  usage,
});

const CONSTANTS = new Map<string, number>([
  ["pi", Math.PI],
  ["e", Math.E],
]);

const FUNCTIONS = new Map<string, FunctionSpec>([
  ["sqrt", fn1(Math.sqrt, "sqrt(x)")],
  ["cbrt", fn1(Math.cbrt, "cbrt(x)")],
  ["abs", fn1(Math.abs, "abs(x)")],
  ["round", { min: 1, max: 2, apply: ([x, digits]) => roundHalfAwayFromZero(x as number, digits ?? 0), usage: "round(x) or round(x, digits)" }],
  ["floor", fn1(Math.floor, "floor(x)")],
  ["ceil", fn1(Math.ceil, "ceil(x)")],
  ["trunc", fn1(Math.trunc, "trunc(x)")],
  ["sign", fn1(Math.sign, "sign(x)")],
  ["exp", fn1(Math.exp, "exp(x)")],
  ["ln", fn1(Math.log, "ln(x)")],
  ["log", { min: 1, max: 2, apply: ([x, base]) => logarithm(x as number, base ?? 10), usage: "log(x) (base 10) or log(x, base)" }],
  ["log2", fn1(Math.log2, "log2(x)")],
  ["sin", fn1(Math.sin, "sin(radians)")],
  ["cos", fn1(Math.cos, "cos(radians)")],
  ["tan", fn1(Math.tan, "tan(radians)")],
  ["asin", fn1(Math.asin, "asin(x)")],
  ["acos", fn1(Math.acos, "acos(x)")],
  ["atan", fn1(Math.atan, "atan(x)")],
  ["atan2", { min: 2, max: 2, apply: ([y, x]) => Math.atan2(y as number, x as number), usage: "atan2(y, x)" }],
  ["sinh", fn1(Math.sinh, "sinh(x)")],
  ["cosh", fn1(Math.cosh, "cosh(x)")],
  ["tanh", fn1(Math.tanh, "tanh(x)")],
  ["min", { min: 1, max: Infinity, apply: (args) => Math.min(...args), usage: "min(a, b, ...)" }],
  ["max", { min: 1, max: Infinity, apply: (args) => Math.max(...args), usage: "max(a, b, ...)" }],
  ["pow", { min: 2, max: 2, apply: ([x, y]) => power(x as number, y as number), usage: "pow(x, y)" }],
  ["hypot", { min: 1, max: Infinity, apply: (args) => Math.hypot(...args), usage: "hypot(a, b, ...)" }],
]);

export const FUNCTION_NAMES = [...FUNCTIONS.keys()];
export const CONSTANT_NAMES = [...CONSTANTS.keys()];

/** round(2.5) = 3, round(-2.5) = -3, round(2.675, 2) = 2.68 (decimal intent, not binary noise). */
function roundHalfAwayFromZero(x: number, digits: number): number {
  if (!Number.isInteger(digits) || digits < -15 || digits > 15) {
    throw mathError(`round(x, digits) needs a whole number of digits from -15 to 15; got ${formatNumber(digits)}.`, "domain_error");
  }
  const scale = 10 ** digits;
  const scaled = Number((Math.abs(x) * scale).toPrecision(15));
  return (Math.sign(x) * Math.round(scaled)) / scale;
}

function logarithm(x: number, base: number): number {
  if (base === 10) return Math.log10(x);
  if (base === 2) return Math.log2(x);
  if (base <= 0 || base === 1) {
    throw mathError(`log(x, base) needs a positive base other than 1; got base ${formatNumber(base)}.`, "domain_error");
  }
  return Math.log(x) / Math.log(base);
}

function power(x: number, y: number): number {
  if (x === 0 && y < 0) throw mathError(`0 raised to a negative power (0^${formatNumber(y)}) is a division by zero.`, "division_by_zero");
  return x ** y;
}

// ---------------------------------------------------------------------------------------------
// Parser

export type Node =
  | { type: "number"; value: number; position: number }
  | { type: "unary"; op: "+" | "-"; operand: Node; position: number }
  | { type: "binary"; op: "+" | "-" | "*" | "/" | "%" | "^"; left: Node; right: Node; position: number }
  | { type: "call"; name: string; args: Node[]; position: number };

const EXPECTED_OPERAND = "a number, a constant (pi, e), a function call like sqrt(2), '(' or a sign";
const EXPECTED_OPERATOR = "an operator (+ - * / % ^) or the end of the expression";

function describe(token: Token): string {
  return token.kind === "end" ? "end of expression" : `'${token.text}'`;
}

export function parse(expression: string): Node {
  const tokens = tokenize(expression);
  if (tokens.length === 1) throw syntaxError("The expression is empty: give something to calculate, like 2*(3+4).");
  let index = 0;
  let depth = 0;
  const peek = () => tokens[index] as Token;
  const next = () => tokens[index++] as Token;

  const enter = (token: Token) => {
    if (++depth > MAX_DEPTH) {
      throw syntaxError(
        `The expression is nested too deeply at position ${token.position} (more than ${MAX_DEPTH} levels of parentheses, calls or signs). Simplify it.`,
        "too_deep",
      );
    }
  };

  function parseExpression(): Node {
    let left = parseTerm();
    while (peek().kind === "op" && (peek().text === "+" || peek().text === "-")) {
      const op = next();
      left = { type: "binary", op: op.text as "+" | "-", left, right: parseTerm(), position: op.position };
    }
    return left;
  }

  function parseTerm(): Node {
    let left = parseUnary();
    while (peek().kind === "op" && (peek().text === "*" || peek().text === "/" || peek().text === "%")) {
      const op = next();
      left = { type: "binary", op: op.text as "*" | "/" | "%", left, right: parseUnary(), position: op.position };
    }
    return left;
  }

  function parseUnary(): Node {
    const token = peek();
    if (token.kind === "op" && (token.text === "+" || token.text === "-")) {
      next();
      enter(token);
      const operand = parseUnary();
      depth--;
      return { type: "unary", op: token.text, operand, position: token.position };
    }
    return parsePower();
  }

  function parsePower(): Node {
    const base = parsePrimary();
    const token = peek();
    if (token.kind === "op" && token.text === "^") {
      next();
      enter(token);
      // The exponent may carry its own sign (2^-1) and chains to the right (2^3^2 = 2^9).
      const exponent = parseUnary();
      depth--;
      return { type: "binary", op: "^", left: base, right: exponent, position: token.position };
    }
    return base;
  }

  function parsePrimary(): Node {
    const token = next();
    switch (token.kind) {
      case "number":
        return { type: "number", value: token.value as number, position: token.position };
      case "(": {
        enter(token);
        const inner = parseExpression();
        expectClose(token, "(");
        depth--;
        return inner;
      }
      case "name":
        return parseName(token);
      default: {
        const after = tokens[index - 2];
        const context = after ? ` after '${after.text}'` : "";
        throw syntaxError(
          token.kind === "end"
            ? `Unexpected end of expression at position ${token.position}: expected ${EXPECTED_OPERAND}${context}.`
            : `Unexpected ${describe(token)} at position ${token.position}: expected ${EXPECTED_OPERAND}.` +
                (token.kind === "," ? " Commas only separate function arguments; write 1000, not 1,000." : ""),
        );
      }
    }
  }

  function parseName(token: Token): Node {
    const name = token.text.toLowerCase();
    const constant = CONSTANTS.get(name);
    const fn = FUNCTIONS.get(name);
    const called = peek().kind === "(";
    if (constant !== undefined) {
      if (called) {
        throw syntaxError(`'${token.text}' at position ${token.position} is a constant, not a function; write ${name}*(...) to multiply.`);
      }
      return { type: "number", value: constant, position: token.position };
    }
    if (!fn) {
      throw syntaxError(
        `Unknown name '${token.text}' at position ${token.position}. Constants: ${CONSTANT_NAMES.join(", ")}. ` + `Functions: ${FUNCTION_NAMES.join(", ")}.`,
        "unknown_name",
      );
    }
    if (!called) {
      throw syntaxError(`'${token.text}' at position ${token.position} is a function; call it with parentheses, like ${fn.usage}.`);
    }
    const open = next();
    enter(open);
    const args: Node[] = [];
    if (peek().kind !== ")") {
      args.push(parseExpression());
      while (peek().kind === ",") {
        next();
        args.push(parseExpression());
      }
    }
    expectClose({ ...open, position: token.position }, `${name}(`);
    depth--;
    if (args.length < fn.min || args.length > fn.max) {
      const expected = fn.max === Infinity ? `at least ${fn.min}` : fn.min === fn.max ? `${fn.min}` : `${fn.min} or ${fn.max}`;
      const plural = fn.max === 1 || (fn.max === Infinity && fn.min === 1) ? "argument" : "arguments";
      throw syntaxError(`${name} at position ${token.position} takes ${expected} ${plural} but got ${args.length}: use ${fn.usage}.`, "wrong_arity");
    }
    return { type: "call", name, args, position: token.position };
  }

  function expectClose(open: Token, what: string) {
    const token = peek();
    if (token.kind === ")") {
      next();
      return;
    }
    throw syntaxError(
      token.kind === "end"
        ? `Missing ')' at position ${token.position} to close the '${what}' at position ${open.position}.`
        : `Unexpected ${describe(token)} at position ${token.position}: expected ${what === "(" ? "" : "',' or "}')' to close the '${what}' at position ${open.position}.`,
    );
  }

  const tree = parseExpression();
  const rest = peek();
  if (rest.kind !== "end") {
    const implicit = rest.kind === "(" || rest.kind === "name" || rest.kind === "number";
    throw syntaxError(
      `Unexpected ${describe(rest)} at position ${rest.position}: expected ${EXPECTED_OPERATOR}.` +
        (rest.kind === ")" ? " There is no '(' for it to close." : "") +
        (rest.kind === "," ? " Commas only separate function arguments; write 1000, not 1,000." : "") +
        (implicit ? " Multiplication must be written out, e.g. 2*pi or 3*(4+5)." : ""),
    );
  }
  return tree;
}

// ---------------------------------------------------------------------------------------------
// Evaluation

export function evaluate(expression: string): number {
  const result = evaluateNode(parse(expression));
  return Object.is(result, -0) ? 0 : result;
}

function evaluateNode(node: Node): number {
  switch (node.type) {
    case "number":
      return node.value;
    case "unary": {
      const value = evaluateNode(node.operand);
      return node.op === "-" ? -value : value;
    }
    case "binary": {
      const left = evaluateNode(node.left);
      const right = evaluateNode(node.right);
      const at = `at position ${node.position}`;
      let value: number;
      switch (node.op) {
        case "+":
          value = left + right;
          break;
        case "-":
          value = left - right;
          break;
        case "*":
          value = left * right;
          break;
        case "/":
          if (right === 0) throw mathError(`Division by zero ${at} (${operand(left)} / 0).`, "division_by_zero");
          value = left / right;
          break;
        case "%":
          if (right === 0) throw mathError(`Modulo by zero ${at} (${operand(left)} % 0).`, "division_by_zero");
          value = left % right;
          break;
        case "^":
          value = power(left, right);
          if (Number.isNaN(value)) {
            throw mathError(`${operand(left)}^${operand(right)} ${at} is not a real number (a negative base needs a whole-number exponent).`, "domain_error");
          }
          break;
      }
      return checkFinite(value, `${operand(left)} ${node.op} ${operand(right)} ${at}`);
    }
    case "call": {
      const args = node.args.map(evaluateNode);
      const spec = FUNCTIONS.get(node.name) as FunctionSpec;
      const value = spec.apply(args);
      const call = `${node.name}(${args.map(formatNumber).join(", ")}) at position ${node.position}`;
      if (Number.isNaN(value)) {
        throw mathError(`${call} is undefined: the argument is outside the function's domain.`, "domain_error");
      }
      if (!Number.isFinite(value)) {
        throw mathError(`${call} has no finite value (it is infinite or too large to represent).`, "not_finite");
      }
      return value;
    }
  }
}

/** A number as it would be written back into an expression: negatives in parentheses. */
function operand(value: number): string {
  const text = formatNumber(value);
  return value < 0 ? `(${text})` : text;
}

function checkFinite(value: number, what: string): number {
  if (Number.isFinite(value)) return value;
  if (Number.isNaN(value)) throw mathError(`${what} is not a number.`, "domain_error");
  throw mathError(`${what} is ${value > 0 ? "too large" : "too large a negative number"} to represent (the limit is about ±1.8e308).`, "overflow");
}

/**
 * Rounds to 15 significant digits to drop binary floating-point noise: 0.1 + 0.2 → "0.3".
 * Integers up to 2^53 in magnitude are exact in a double, so they print in full: 2^53 → "9007199254740992".
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) <= 2 ** 53) return String(value);
  const clean = Number(value.toPrecision(15));
  return String(Object.is(clean, -0) ? 0 : clean);
}

// ---------------------------------------------------------------------------------------------
// Errors

function syntaxError(message: string, code = "syntax_error"): ToolError {
  return new ToolError(message, { status: 400, type: "invalid_arguments", code });
}

function mathError(message: string, code: string): ToolError {
  return new ToolError(message, { status: 422, type: "tool_error", code });
}
