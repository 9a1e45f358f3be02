// What the bench asks, shared by the mock upstream (which decides its answer from it) and the driver.
export const TOOL_PROMPT = "What is 2*(3+4)? Use the calculator.";
export const TEXT_PROMPT = "Say hello in one word.";
export const TOOL_EXPRESSION = "2*(3+4)";
