import { describe, expect, it } from "vitest";
import { ToolError } from "../../kit/index.js";
import { evaluate, formatNumber, MAX_DEPTH, MAX_TOKENS } from "./calculator.js";
import worker, { calculatorTool } from "./index.js";

const context = {
  conversation_id: null,
  tool_call_id: "call_1",
  request_id: "r",
  tenant: "t",
  idempotency_key: "k",
};

/** The ToolError that evaluating `expression` throws. */
function failure(expression: string): ToolError {
  try {
    evaluate(expression);
  } catch (error) {
    if (error instanceof ToolError) return error;
    throw error;
  }
  throw new Error(`expected "${expression}" to fail`);
}

function expectSyntaxError(expression: string, message: string | RegExp, code = "syntax_error") {
  const error = failure(expression);
  expect(error.status).toBe(400);
  expect(error.type).toBe("invalid_arguments");
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
}

function expectMathError(expression: string, message: string | RegExp, code: string) {
  const error = failure(expression);
  expect(error.status).toBe(422);
  expect(error.type).toBe("tool_error");
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
}

describe("calculate: numbers", () => {
  it.each([
    ["42", 42],
    ["3.25", 3.25],
    [".5", 0.5],
    ["5.", 5],
    ["1e3", 1000],
    ["2.5E-4", 0.00025],
    ["1e+2", 100],
    ["  7  ", 7],
  ])("reads %s as %d", (expression, expected) => {
    expect(evaluate(expression)).toBe(expected);
  });

  it("leaves an 'e' with no exponent digits to the parser instead of reading an exponent", () => {
    expectSyntaxError("2e", /Unexpected 'e' at position 2.*2\*pi/);
  });

  it("rejects a number with two decimal points at the second one", () => {
    expectSyntaxError("1.2.3", "Unexpected '.' at position 4");
  });

  it("rejects a literal too large for a double with 422", () => {
    expectMathError("1e400", "The number 1e400 at position 1 is too large", "overflow");
  });
});

describe("calculate: precedence and associativity", () => {
  it.each([
    ["2+3*4", 14],
    ["(2+3)*4", 20],
    ["10-4-3", 3],
    ["100/10/5", 2],
    ["2*3/4", 1.5],
    ["7%4*2", 6],
    ["1+7%4", 4],
    ["2^3^2", 512],
    ["2**3**2", 512],
    ["(2^3)^2", 64],
    ["2*3^2", 18],
    ["2^3*2", 16],
    ["-2^2", -4],
    ["(-2)^2", 4],
    ["2^-1", 0.5],
    ["2^-2^2", 1 / 16],
    ["-3-3", -6],
    ["--2", 2],
    ["+-+2", -2],
    ["3--2", 5],
    ["-(2+3)*2", -10],
    ["2*-3", -6],
  ])("evaluates %s to %d", (expression, expected) => {
    expect(evaluate(expression)).toBe(expected);
  });

  it("takes the sign of the remainder from the left operand", () => {
    expect(evaluate("-7 % 3")).toBe(-1);
    expect(evaluate("7 % -3")).toBe(1);
    expect(evaluate("5.5 % 2")).toBe(1.5);
  });

  it("never returns negative zero", () => {
    expect(Object.is(evaluate("-0"), 0)).toBe(true);
    expect(Object.is(evaluate("0*-1"), 0)).toBe(true);
  });
});

describe("calculate: look-alike characters", () => {
  it("accepts × and ÷ for multiplication and division", () => {
    expect(evaluate("6×7")).toBe(42);
    expect(evaluate("1÷4")).toBe(0.25);
  });

  it("accepts full-width parentheses, digits and operators", () => {
    expect(evaluate("（１＋２）＊３")).toBe(9);
  });

  it("accepts the Unicode minus sign and π", () => {
    expect(evaluate("5 − 2")).toBe(3);
    expect(evaluate("π")).toBe(Math.PI);
  });

  it("reports positions in the original text after normalising characters", () => {
    expectSyntaxError("（1+2）)", "Unexpected ')' at position 6");
  });
});

describe("calculate: constants and functions", () => {
  it.each([
    ["pi", Math.PI],
    ["e", Math.E],
    ["PI", Math.PI],
    ["sqrt(16)", 4],
    ["SQRT(16)", 4],
    ["cbrt(-27)", -3],
    ["abs(-3.5)", 3.5],
    ["floor(-2.5)", -3],
    ["ceil(2.1)", 3],
    ["trunc(-2.7)", -2],
    ["sign(-9)", -1],
    ["exp(0)", 1],
    ["ln(e)", 1],
    ["log(1000)", 3],
    ["log(8, 2)", 3],
    ["log(81, 3)", 4],
    ["log2(1024)", 10],
    ["sin(0)", 0],
    ["cos(0)", 1],
    ["tan(0)", 0],
    ["asin(1)", Math.PI / 2],
    ["acos(1)", 0],
    ["atan(1)*4", Math.PI],
    ["atan2(1, 1)", Math.PI / 4],
    ["sinh(0)", 0],
    ["cosh(0)", 1],
    ["tanh(0)", 0],
    ["min(3, 1, 2)", 1],
    ["max(3, 1, 2, 10, -4)", 10],
    ["max(5)", 5],
    ["pow(2, 10)", 1024],
    ["hypot(3, 4)", 5],
    ["hypot(2, 3, 6)", 7],
    ["sqrt(max(9, 16)) + abs(-1)", 5],
  ])("evaluates %s", (expression, expected) => {
    expect(evaluate(expression)).toBeCloseTo(expected, 12);
  });

  it("rounds halves away from zero, optionally to a number of digits", () => {
    expect(evaluate("round(2.5)")).toBe(3);
    expect(evaluate("round(-2.5)")).toBe(-3);
    expect(evaluate("round(2.4)")).toBe(2);
    expect(evaluate("round(2.675, 2)")).toBe(2.68);
    expect(evaluate("round(1234.5, -2)")).toBe(1200);
  });

  it("rejects a fractional number of rounding digits", () => {
    expectMathError("round(1, 0.5)", "whole number of digits", "domain_error");
  });

  it("rejects a function used without parentheses and shows how to call it", () => {
    expectSyntaxError("sqrt + 1", "'sqrt' at position 1 is a function; call it with parentheses, like sqrt(x)");
  });

  it("rejects a constant called like a function", () => {
    expectSyntaxError("pi(2)", "'pi' at position 1 is a constant, not a function");
  });

  it("rejects the wrong number of arguments with the function's usage", () => {
    expectSyntaxError("sqrt(1, 2)", "sqrt at position 1 takes 1 argument but got 2: use sqrt(x)", "wrong_arity");
    expectSyntaxError("atan2(1)", "atan2 at position 1 takes 2 arguments but got 1", "wrong_arity");
    expectSyntaxError("2 + max()", "max at position 5 takes at least 1 argument but got 0", "wrong_arity");
    expectSyntaxError("log(1, 2, 3)", "log at position 1 takes 1 or 2 arguments but got 3", "wrong_arity");
  });
});

describe("calculate: unknown names", () => {
  it.each(["constructor", "__proto__", "process", "toString", "hasOwnProperty", "globalThis", "x"])(
    "rejects the unknown identifier %s with its position",
    (name) => {
      const error = failure(`1 + ${name}`);
      expect(error.status).toBe(400);
      expect(error.code).toBe("unknown_name");
      expect(error.message).toContain(`Unknown name '${name}' at position 5.`);
      expect(error.message).toContain("Functions: sqrt");
    },
  );

  it("rejects an unknown name even when it is called like a function", () => {
    expectSyntaxError("constructor(1)", "Unknown name 'constructor' at position 1", "unknown_name");
    expectSyntaxError("__proto__(1)", "Unknown name '__proto__' at position 1", "unknown_name");
  });
});

describe("calculate: syntax errors", () => {
  it("rejects an unmatched ')' with its position", () => {
    expectSyntaxError("2*(3+4))", /^Unexpected '\)' at position 8: expected an operator .* There is no '\(' for it to close\./);
  });

  it("reports a missing ')' and where the '(' was opened", () => {
    expectSyntaxError("2*(3+4", "Missing ')' at position 7 to close the '(' at position 3.");
    expectSyntaxError("sqrt(4", "Missing ')' at position 7 to close the 'sqrt(' at position 1.");
  });

  it("asks for ',' or ')' when a function argument is followed by something else", () => {
    expectSyntaxError("sqrt(4 5)", "Unexpected '5' at position 8: expected ',' or ')'");
  });

  it("reports an expression that ends where an operand is expected", () => {
    expectSyntaxError("2+", "Unexpected end of expression at position 3: expected a number");
    expectSyntaxError("2^", /position 3.*after '\^'/);
  });

  it("rejects an operator where an operand is expected", () => {
    expectSyntaxError("* 3", "Unexpected '*' at position 1: expected a number");
    expectSyntaxError("min(1,)", "Unexpected ')' at position 7: expected a number");
  });

  it("rejects implicit multiplication and says to write it out", () => {
    expectSyntaxError("2(3)", /Unexpected '\(' at position 2.*Multiplication must be written out/);
    expectSyntaxError("2pi", /Unexpected 'pi' at position 2/);
  });

  it("treats commas as argument separators, not thousands separators", () => {
    expectSyntaxError("1,000", /Unexpected ',' at position 2.*write 1000, not 1,000/);
  });

  it("rejects characters that are not part of the syntax", () => {
    expectSyntaxError("3 $ 4", "Unexpected character '$' at position 3");
    expectSyntaxError("1; 2", "Unexpected character ';' at position 2");
    expectSyntaxError("a.b", /Unknown name 'a'|Unexpected/);
    expectSyntaxError("3😀4", "Unexpected character '😀' at position 2");
  });

  it("rejects an empty or blank expression", () => {
    expectSyntaxError("   ", "The expression is empty");
  });

  it(`accepts nesting up to ${MAX_DEPTH} levels and rejects deeper nesting`, () => {
    expect(evaluate(`${"(".repeat(MAX_DEPTH)}1${")".repeat(MAX_DEPTH)}`)).toBe(1);
    expect(evaluate(`${"-".repeat(MAX_DEPTH)}1`)).toBe(1);
    expectSyntaxError(`${"(".repeat(MAX_DEPTH + 1)}1${")".repeat(MAX_DEPTH + 1)}`, "nested too deeply at position 101", "too_deep");
    expectSyntaxError(`${"-".repeat(MAX_DEPTH + 1)}1`, "nested too deeply", "too_deep");
    expectSyntaxError(`${"sqrt(".repeat(MAX_DEPTH + 1)}1${")".repeat(MAX_DEPTH + 1)}`, "nested too deeply", "too_deep");
    expectSyntaxError(`${"2^".repeat(MAX_DEPTH + 1)}1`, "nested too deeply", "too_deep");
  });

  it(`rejects more than ${MAX_TOKENS} tokens`, () => {
    expectSyntaxError(`${"1+".repeat(MAX_TOKENS / 2)}1`, /more than 500 tokens/, "too_many_tokens");
  });

  it("reports a syntax error even when an earlier part would fail to evaluate", () => {
    expectSyntaxError("1/0 + )", "Unexpected ')' at position 7");
  });
});

describe("calculate: math errors", () => {
  it("rejects division by zero with 422 and its position", () => {
    expectMathError("1/0", "Division by zero at position 2 (1 / 0).", "division_by_zero");
    expectMathError("5 / (3 - 3)", "Division by zero at position 3", "division_by_zero");
    expectMathError("5 % 0", "Modulo by zero at position 3", "division_by_zero");
    expectMathError("0^-1", "0 raised to a negative power", "division_by_zero");
  });

  it("rejects results outside a function's domain", () => {
    expectMathError("sqrt(-1)", "sqrt(-1) at position 1 is undefined", "domain_error");
    expectMathError("asin(2)", "asin(2) at position 1 is undefined", "domain_error");
    expectMathError("(-8)^(1/3)", /^\(-8\)\^0\.333333333333333 at position 5 is not a real number/, "domain_error");
    expectMathError("log(10, 1)", "positive base other than 1", "domain_error");
  });

  it("rejects non-finite results", () => {
    expectMathError("10^400", "10 ^ 400 at position 3 is too large to represent", "overflow");
    expectMathError("1e308 * 10", "too large to represent", "overflow");
    expectMathError("-1e308 * 10", "too large a negative number", "overflow");
    expectMathError("exp(1000)", "exp(1000) at position 1 has no finite value", "not_finite");
    expectMathError("ln(0)", "ln(0) at position 1 has no finite value", "not_finite");
  });
});

describe("calculate: result formatting", () => {
  it.each([
    [0.1 + 0.2, "0.3"],
    [1 / 3, "0.333333333333333"],
    [2 / 3, "0.666666666666667"],
    [1.1 * 1.1, "1.21"],
    [-0, "0"],
    [1e21, "1e+21"],
    [1.5e-7, "1.5e-7"],
    [2 ** 53, "9007199254740992"],
    [123456789, "123456789"],
  ])("formats %d as %s", (value, text) => {
    expect(formatNumber(value)).toBe(text);
  });

  it("returns the raw result and the noise-free text", async () => {
    await expect(calculatorTool.invoke({ expression: "0.1+0.2" }, {}, context)).resolves.toEqual({
      expression: "0.1+0.2",
      result: 0.30000000000000004,
      result_text: "0.3",
    });
  });
});

describe("calculate Worker", () => {
  it("answers POST /invoke with the result", async () => {
    const response = await worker.app.request(
      "/invoke",
      {
        method: "POST",
        body: JSON.stringify({ arguments: { expression: "2*(3+4)" }, context }),
      },
      {},
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ result: { expression: "2*(3+4)", result: 14, result_text: "14" } });
  });

  it("answers a syntax error with 400 invalid_arguments", async () => {
    const response = await worker.app.request("/invoke", { method: "POST", body: JSON.stringify({ arguments: { expression: "2*(3+4))" }, context }) }, {});
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { type: string; message: string; code: string } };
    expect(body.error.type).toBe("invalid_arguments");
    expect(body.error.code).toBe("syntax_error");
    expect(body.error.message).toContain("Unexpected ')' at position 8");
  });

  it("answers division by zero with 422", async () => {
    const response = await worker.app.request("/invoke", { method: "POST", body: JSON.stringify({ arguments: { expression: "1/0" }, context }) }, {});
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ error: { type: "tool_error", code: "division_by_zero" } });
  });

  it("rejects a missing or overlong expression through the schema", async () => {
    for (const args of [{}, { expression: "" }, { expression: "1".repeat(1001) }]) {
      const response = await worker.app.request("/invoke", { method: "POST", body: JSON.stringify({ arguments: args, context }) }, {});
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { type: "invalid_arguments" } });
    }
  });

  it("serves its schema on GET /schema", async () => {
    const response = await worker.app.request("/schema", {}, {});
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      type: string;
      function: { name: string; description: string; parameters: Record<string, unknown> };
      metadata: { side_effects: boolean; version: string };
    };
    expect(body.type).toBe("function");
    expect(body.function.name).toBe("calculate");
    expect(body.function.parameters).toMatchObject({
      type: "object",
      properties: { expression: { type: "string", minLength: 1, maxLength: 1000 } },
      required: ["expression"],
    });
    expect(body.metadata.side_effects).toBe(false);
    expect(body.metadata.version).toMatch(/^[0-9a-f]{16}$/);
    expect(response.headers.get("ETag")).toBe(`"${body.metadata.version}"`);
  });
});
