// The calculator tool Worker: exact-as-floats arithmetic so the model doesn't do it in its head.

import * as z from "zod";
import { defineTool, toolWorker } from "../../kit/index.js";
import { evaluate, formatNumber } from "./calculator.js";

export const calculatorTool = defineTool({
  name: "calculate",
  description:
    "Evaluate an arithmetic expression and return the numeric result. Use it for any calculation instead of " +
    "working it out yourself: percentages, unit conversions, compound interest, trigonometry.",
  parameters: z.object({
    expression: z
      .string()
      .min(1)
      .max(1000)
      .describe(
        'The expression, e.g. "2*(3+4)", "1200 * (1 + 0.05)^10", "sqrt(2)/2", "log(1000)". ' +
          "Numbers: 42, 3.14, .5, 1e3, 2.5E-4 (no thousands separators). " +
          "Operators: + - * / % (remainder, sign of the left operand), ^ or ** (power, right-associative, " +
          "binds tighter than a sign: -2^2 = -4); × and ÷ also work. Multiplication must be explicit (2*pi, not 2pi). " +
          "Constants: pi, e. Functions (trig in radians): sqrt, cbrt, abs, round(x) or round(x, digits), floor, ceil, " +
          "trunc, sign, exp, ln, log (base 10, or log(x, base)), log2, sin, cos, tan, asin, acos, atan, atan2(y, x), " +
          "sinh, cosh, tanh, min(...), max(...), pow(x, y), hypot(...). Commas only separate function arguments.",
      ),
  }),
  run: ({ expression }) => {
    const result = evaluate(expression);
    return { expression, result, result_text: formatNumber(result) };
  },
});

export default toolWorker(calculatorTool);
