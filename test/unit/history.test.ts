import { describe, expect, it } from "vitest";
import type { TurnRecord } from "../../src/conversations/turns.js";
import { clientViewOf, HistoryConflictError, reconcileInput } from "../../src/history/reconcile.js";
import { checkToolCallPairs, InvalidHistoryError } from "../../src/history/tool-pairs.js";
import type { AssistantMessage, ChatMessage } from "../../src/protocol/types.js";

const system: ChatMessage = { role: "system", content: "You are terse." };
const user = (content: string): ChatMessage => ({ role: "user", content });
const assistant = (content: string | null, calls: Array<[string, string, string?]> = []): AssistantMessage => ({
  role: "assistant",
  content,
  ...(calls.length > 0
    ? { tool_calls: calls.map(([id, name, args]) => ({ id, type: "function" as const, function: { name, arguments: args ?? "{}" } })) }
    : {}),
});
const tool = (id: string, content: string): ChatMessage => ({ role: "tool", tool_call_id: id, content });

function turn(id: string, messages: ChatMessage[], inputCount: number): TurnRecord {
  return { id, started_at: 1, completed_at: 2, incomplete: false, input_count: inputCount, messages };
}

// A first turn where a server tool ran: the client sent [system, user] and saw only the answer.
const weatherTurn = turn(
  "t1",
  [
    system,
    user("Weather in Paris?"),
    assistant(null, [["call_s1", "get_current_weather", '{"location":"Paris"}']]),
    tool("call_s1", '{"temperature":18}'),
    assistant("18 °C in Paris."),
  ],
  2,
);

/** A mixed step: the server's calculate ran, the client's open_door was handed back. */
const mixed = turn(
  "t",
  [
    user("go"),
    assistant(null, [
      ["call_s", "calculate"],
      ["call_sbx_c", "open_door"],
    ]),
    tool("call_s", "4"),
  ],
  1,
);

describe("what the client saw of a turn", () => {
  it("is its input and the answer, never the server tool calls", () => {
    expect(clientViewOf(weatherTurn)).toEqual([system, user("Weather in Paris?"), assistant("18 °C in Paris.")]);
  });

  it("is its input and only the client's calls of a mixed step", () => {
    expect(clientViewOf(mixed)).toEqual([user("go"), assistant(null, [["call_sbx_c", "open_door"]])]);
  });
});

describe("reconciling a request with its conversation", () => {
  it("keeps only what is new when the whole history is resent, system prompt included (pydantic-ai, LangChain)", () => {
    const messages = [system, user("Weather in Paris?"), assistant("18 °C in Paris."), user("And in Lyon?")];
    expect(reconcileInput([weatherTurn], messages).input).toEqual([user("And in Lyon?")]);
  });

  it("recognises the history in other words: text parts, developer role, re-serialised arguments", () => {
    const resent: ChatMessage[] = [
      { role: "developer", content: [{ type: "text", text: "You are terse." }] },
      { role: "user", content: [{ type: "text", text: "Weather in Paris? " }] },
      { role: "assistant", content: [{ type: "text", text: "18 °C in Paris." }], refusal: null },
      user("And in Lyon?"),
    ];
    expect(reconcileInput([weatherTurn], resent).input).toEqual([user("And in Lyon?")]);
  });

  it("keeps only what is new when only the tail of the history is resent", () => {
    expect(reconcileInput([weatherTurn], [assistant("18 °C in Paris."), user("And in Lyon?")]).input).toEqual([user("And in Lyon?")]);
  });

  it("passes new messages alone through untouched, even one that repeats an earlier question", () => {
    expect(reconcileInput([weatherTurn], [user("Weather in Paris?")]).input).toEqual([user("Weather in Paris?")]);
  });

  it("recognises a streamed reply that carried the text of the steps before it", () => {
    const preamble = turn("t", [user("6*7?"), assistant("Let me calculate. ", [["call_c", "calculate"]]), tool("call_c", "42"), assistant("It is 42.")], 1);
    expect(reconcileInput([preamble], [user("6*7?"), assistant("Let me calculate. It is 42."), user("thanks")]).input).toEqual([user("thanks")]);
    expect(reconcileInput([preamble], [user("6*7?"), assistant("It is 42."), user("thanks")]).input).toEqual([user("thanks")]);
  });

  it("lets a client keep or drop the partial reply of a stream that was cut short", () => {
    const cut = { ...turn("t", [system, user("story?"), assistant("Once upon a ti")], 2), incomplete: true };
    const later = turn("t2", [user("again"), assistant("The end.")], 1);
    const dropped = [system, user("story?"), user("again"), assistant("The end."), user("another")];
    const kept = [system, user("story?"), assistant("Once upon a ti"), user("again"), assistant("The end."), user("another")];
    expect(reconcileInput([cut, later], dropped).input).toEqual([user("another")]);
    expect(reconcileInput([cut, later], kept).input).toEqual([user("another")]);
  });

  it("accepts tool results resent in another order than they were stored", () => {
    const answered = turn("t", [tool("call_b", "2"), tool("call_a", "1"), assistant("done")], 2);
    const asked = turn(
      "t0",
      [
        user("go"),
        assistant(null, [
          ["call_a", "x"],
          ["call_b", "y"],
        ]),
      ],
      1,
    );
    const resent = [
      user("go"),
      assistant(null, [
        ["call_a", "x"],
        ["call_b", "y"],
      ]),
      tool("call_b", "2"),
      tool("call_a", "1"),
      assistant("done"),
      user("thanks"),
    ];
    expect(reconcileInput([asked, answered], resent).input).toEqual([user("thanks")]);
  });

  it("keeps only what is new after a window of the history behind the system prompt (LangChain trim_messages)", () => {
    const turns = [
      turn("t1", [system, user("u1"), assistant("a1")], 2),
      turn("t2", [user("u2"), assistant("a2")], 1),
      turn("t3", [user("u3"), assistant("a3")], 1),
    ];
    expect(reconcileInput(turns, [system, user("u3"), assistant("a3"), user("u4")]).input).toEqual([user("u4")]);
  });

  it("takes a system prompt that changes per request as this turn's prompt, not as a contradiction", () => {
    const monday = turn("t1", [{ role: "system", content: "Today is Monday 10:00." }, user("hi"), assistant("hello")], 2);
    const now: ChatMessage = { role: "system", content: "Today is Monday 10:01." };
    expect(reconcileInput([monday], [now, user("hi"), assistant("hello"), user("how are you")])).toEqual({ input: [user("how are you")], system: [now] });
  });

  it("reads turns stored before input_count existed, whatever history their requests resent", () => {
    const legacy = (id: string, messages: ChatMessage[]): TurnRecord => ({ id, started_at: 1, completed_at: 2, incomplete: false, messages });
    const turns = [legacy("t1", [system, user("u1"), assistant("a1")]), legacy("t2", [system, user("u1"), assistant("a1"), user("u2"), assistant("a2")])];
    expect(reconcileInput(turns, [system, user("u1"), assistant("a1"), user("u2"), assistant("a2"), user("u3")]).input).toEqual([user("u3")]);
  });

  it("drops a resent system prompt in front of new messages", () => {
    expect(reconcileInput([weatherTurn], [system, user("And in Lyon?")]).input).toEqual([user("And in Lyon?")]);
  });

  it("accepts the client's answer to a mixed step after the resent history (Agents SDK shape)", () => {
    const resent = [user("go"), assistant(null, [["call_sbx_c", "open_door"]]), tool("call_sbx_c", "opened")];
    expect(reconcileInput([mixed], resent).input).toEqual([tool("call_sbx_c", "opened")]);
  });

  it("refuses with the index of the first difference a resent history that contradicts the stored one", () => {
    const edited = [system, user("Weather in Rome?"), assistant("18 °C in Paris."), user("And in Lyon?")];
    const error = (() => {
      try {
        reconcileInput([weatherTurn], edited);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(HistoryConflictError);
    expect((error as HistoryConflictError).index).toBe(1);
  });

  it("refuses a request that holds nothing new", () => {
    const everything = [system, user("Weather in Paris?"), assistant("18 °C in Paris.")];
    expect(() => reconcileInput([weatherTurn], everything)).toThrow(HistoryConflictError);
  });
});

describe("checking tool calls and their answers", () => {
  it("passes a well-formed history untouched", () => {
    const history = [
      user("go"),
      assistant(null, [
        ["a", "x"],
        ["b", "y"],
      ]),
      tool("a", "1"),
      tool("b", "2"),
    ];
    expect(checkToolCallPairs(history, [user("next")])).toEqual({ history, input: [user("next")] });
  });

  it("puts answers back in call order", () => {
    const input = [
      user("go"),
      assistant(null, [
        ["a", "x"],
        ["b", "y"],
      ]),
      tool("b", "2"),
      tool("a", "1"),
    ];
    expect(checkToolCallPairs([], input).input.map((message) => (message.role === "tool" ? message.tool_call_id : message.role))).toEqual([
      "user",
      "assistant",
      "a",
      "b",
    ]);
  });

  it("accepts a stored call answered by the request (a client function's result)", () => {
    const history = [
      user("go"),
      assistant(null, [
        ["s", "x"],
        ["c", "y"],
      ]),
      tool("s", "1"),
    ];
    expect(checkToolCallPairs(history, [tool("c", "2")]).input).toEqual([tool("c", "2")]);
  });

  it("answers a stored call the client never answered with an error result, so the model can go on", () => {
    const history = [user("go"), assistant(null, [["c", "open_door"]])];
    const checked = checkToolCallPairs(history, [user("never mind")]);
    expect(checked.history.at(-1)).toMatchObject({ role: "tool", tool_call_id: "c" });
    expect(JSON.parse(String(checked.history.at(-1)!.content))).toMatchObject({ error: { type: "not_answered" } });
  });

  it("refuses an unanswered call in the request, naming its tool_call_id", () => {
    const input = [user("go"), assistant(null, [["call_1", "x"]]), user("and?")];
    expect(() => checkToolCallPairs([], input)).toThrow(/call_1.*messages\[1\]/);
  });

  it("refuses an answer without its call, and a second answer to one call", () => {
    expect(() => checkToolCallPairs([], [user("go"), tool("call_9", "?")])).toThrow(InvalidHistoryError);
    const twice = [user("go"), assistant(null, [["a", "x"]]), tool("a", "1"), tool("a", "1")];
    expect(() => checkToolCallPairs([], twice)).toThrow(/second time/);
  });
});
