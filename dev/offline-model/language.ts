// What the offline model understands of a user's words, in English and Chinese: the concepts they
// name (a small bilingual glossary of everyday words, no tool names), the places, the arithmetic
// expressions, the time zones. Everything here is about language; nothing knows a tool.

const CJK = /[\u3400-\u9fff]/;

export function isChinese(text: string): boolean {
  return CJK.test(text);
}

/** Everyday words and phrases → the English words a tool's description would use for them. */
const GLOSSARY: Array<[RegExp, string[]]> = [
  [
    /天气|气温|温度|几度|多少度|冷|热|下雨|下雪|晴|\b(?:weather|cold|hot|warm|chilly|rain(?:ing|y)?|snow(?:ing|y)?|sunny|degrees?|forecast)\b/i,
    ["weather", "temperature"],
  ],
  [/华氏|fahrenheit/i, ["fahrenheit"]],
  [/摄氏|celsius/i, ["celsius"]],
  [/几点|时间|时区|日期|星期几|\b(?:time|clock|o'clock|date|day is it|timezone)\b/i, ["time", "date"]],
  [
    /计算|算一下|等于多少|次方|平方根|加|减|乘|除|\b(?:calculate|compute|plus|minus|times|divided|sqrt|square root|power|squared|percent)\b/i,
    ["calculate", "arithmetic", "expression"],
  ],
  [/记住|记下|记一下|\b(?:remember|note (?:that|down)|save|store|don'?t forget|keep in mind)\b/i, ["save", "remember", "note"]],
  [
    /笔记|记过什么|记了什么|我的.+(?:是什么|是多少|多少)|\b(?:recall|my notes|what did i|what was my|what(?:'s| is) my|do you remember|show me my)\b/i,
    ["recall", "note"],
  ],
  [/删除|忘掉|忘记|\b(?:delete|forget|remove|erase)\b/i, ["delete", "note"]],
  [/多少字|字数|\b(?:how many words|word count|count the words)\b/i, ["word", "count", "text"]],
];

/** Words too common to tell tools apart. */
const STOPWORDS = new Set(
  (
    "a an the and or of in on at to for from with by is are was were be it its this that these those what whats which who whom how " +
    "when where why do does did can could would should will shall may might i me my you your we our they them he she his her " +
    "please tell give show get current now today some any all one two use using tool tools just also than then there here if not no " +
    "yes ok okay hi hello hey thanks thank about as into out up down over more most other such only own same so very s t"
  ).split(" "),
);

function stem(word: string): string {
  return word.length > 3 && word.endsWith("s") && !word.endsWith("ss") ? word.slice(0, -1) : word;
}

/** Lowercased, stemmed content words of an English text (identifiers split at `_`, `-` and case changes). */
export function contentWords(text: string): string[] {
  return text
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 1 && !STOPWORDS.has(word) && !/^\d+$/.test(word))
    .map(stem);
}

/** A question asks for something; it does not tell the model something to keep. */
export function isQuestion(text: string): boolean {
  const trimmed = text.trim();
  return (
    /[?？]$/.test(trimmed) || /^(?:what|which|who|how|when|where|why|do|does|did|is|are|can|could)\b/i.test(trimmed) || /吗[?？]?$|什么|多少|几/.test(trimmed)
  );
}

/** The concepts a user's words name: their own content words plus what the glossary adds. */
export function conceptsOf(text: string): Set<string> {
  const concepts = new Set(contentWords(text));
  const question = isQuestion(text);
  for (const [pattern, words] of GLOSSARY) {
    if (!pattern.test(text)) continue;
    // "What did I ask you to remember?" recalls; it does not save.
    if (question && words[0] === "save") continue;
    for (const word of words) concepts.add(word);
  }
  return concepts;
}

// ---------------------------------------------------------------------------------------------
// Places

/** Chinese names of places people often ask about, in the English the time-zone database uses. */
const CHINESE_PLACES: Record<string, string> = {
  上海: "Shanghai",
  北京: "Beijing",
  广州: "Guangzhou",
  深圳: "Shenzhen",
  香港: "Hong Kong",
  台北: "Taipei",
  东京: "Tokyo",
  首尔: "Seoul",
  新加坡: "Singapore",
  伦敦: "London",
  巴黎: "Paris",
  柏林: "Berlin",
  莫斯科: "Moscow",
  纽约: "New York",
  洛杉矶: "Los Angeles",
  旧金山: "San Francisco",
  芝加哥: "Chicago",
  悉尼: "Sydney",
  迪拜: "Dubai",
};

const PLACE_SEPARATORS = /\s+and\s+|\s*&\s*|\s*[和与跟及、]\s*/i;
/** A place in English: capitalised words, with a qualifier after a comma ("Paris, France"). */
const ENGLISH_PLACE = /^\p{Lu}[\p{L}'.-]*(?:(?:\s+|,\s*)\p{Lu}[\p{L}'.-]*)*/u;
const CHINESE_PLACE_BEFORE =
  /^(?:请问|请告诉我|帮我查一下|查一下|告诉我)?\s*([^，,？?。！!\s]+?)(?:今天|现在|明天|此刻|目前|的天气|天气|几度|多少度|气温|温度|几点|时间|冷|热)/;

/**
 * The places a text names, in order: "weather in New York and London" → ["New York", "London"];
 * "上海今天几度?" → ["上海"]. A comma keeps its qualifier ("Paris, France" is one place).
 */
export function placesIn(text: string): string[] {
  const sentence = stripQuestion(text);
  for (const preposition of sentence.matchAll(/\b(?:in|at|for|to|from)\s+(?=\p{Lu})/gu)) {
    // Up to the end of the sentence: "ship to Shanghai. Check the weather" names Shanghai.
    const rest = sentence.slice(preposition.index + preposition[0].length).split(/[.;:]\s|\n/)[0]!;
    const places = rest
      .split(PLACE_SEPARATORS)
      .map((part) => ENGLISH_PLACE.exec(part.trim())?.[0] ?? "")
      .filter(Boolean);
    if (places.length > 0) return [...new Set(places)];
  }
  if (!isChinese(text)) return [];
  const known = Object.keys(CHINESE_PLACES)
    .map((place) => ({ place, at: text.indexOf(place) }))
    .filter(({ at }) => at >= 0)
    .sort((a, b) => a.at - b.at)
    .map(({ place }) => place);
  if (known.length > 0) return known;
  const head = CHINESE_PLACE_BEFORE.exec(text)?.[1]?.replace(/^(?:今天|现在|明天|目前)/, "");
  return head ? [...new Set(head.split(PLACE_SEPARATORS).filter(Boolean))] : [];
}

function stripQuestion(text: string): string {
  return text.replace(/[?？!！。]+/g, " ").trim();
}

/** A place in the English the time-zone database and most APIs use. */
export function englishPlace(place: string): string {
  return CHINESE_PLACES[place] ?? place;
}

// ---------------------------------------------------------------------------------------------
// Time zones

/** Cities that share their zone with a bigger one. */
const ZONE_OF_CITY: Record<string, string> = {
  beijing: "Asia/Shanghai",
  guangzhou: "Asia/Shanghai",
  shenzhen: "Asia/Shanghai",
  "san francisco": "America/Los_Angeles",
  seattle: "America/Los_Angeles",
  washington: "America/New_York",
  boston: "America/New_York",
  delhi: "Asia/Kolkata",
  "new delhi": "Asia/Kolkata",
  mumbai: "Asia/Kolkata",
  munich: "Europe/Berlin",
  osaka: "Asia/Tokyo",
  kyoto: "Asia/Tokyo",
};

let zonesByCity: Map<string, string> | undefined;

/** The IANA zone for a place: an IANA name itself, a zone's city ("Tokyo" → Asia/Tokyo), or a known alias. */
export function timeZoneOf(place: string): string | null {
  const iana = /^[A-Za-z]+(?:\/[A-Za-z0-9_+-]+)+$/.exec(place.trim())?.[0];
  if (iana) return iana;
  const city = englishPlace(place.split(",")[0]!.trim()).toLowerCase();
  zonesByCity ??= new Map(Intl.supportedValuesOf("timeZone").map((zone) => [zone.split("/").at(-1)!.replaceAll("_", " ").toLowerCase(), zone]));
  return zonesByCity.get(city) ?? ZONE_OF_CITY[city] ?? null;
}

/** IANA zone names written in a text ("America/Argentina/Buenos_Aires"). */
export function timeZonesIn(text: string): string[] {
  return [...text.matchAll(/\b[A-Z][A-Za-z]+(?:\/[A-Z][A-Za-z0-9_+-]*)+\b/g)].map((match) => match[0]);
}

// ---------------------------------------------------------------------------------------------
// Arithmetic

const CHINESE_ARITHMETIC: Array<[RegExp, string]> = [
  [/的平方根|开平方/g, "^0.5"],
  [/的(\d+(?:\.\d+)?)次方/g, "^$1"],
  [/的平方/g, "^2"],
  [/的立方/g, "^3"],
  [/乘以|乘/g, "*"],
  [/除以/g, "/"],
  [/加上|加/g, "+"],
  [/减去|减/g, "-"],
];

const ENGLISH_ARITHMETIC: Array<[RegExp, string]> = [
  [/\bsquare root of\s+(\d+(?:\.\d+)?)/gi, "sqrt($1)"],
  [/\bto the power of\b/gi, "^"],
  [/\bsquared\b/gi, "^2"],
  [/\bcubed\b/gi, "^3"],
  [/\bplus\b/gi, "+"],
  [/\bminus\b/gi, "-"],
  [/\b(?:times|multiplied by)\b/gi, "*"],
  [/\bdivided by\b/gi, "/"],
  [/\bmod(?:ulo)?\b/gi, "%"],
];

const NUMBER = String.raw`(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?`;
const OPERAND = String.raw`(?:${NUMBER}|pi|π|e|[a-z][a-z0-9]*\s*\()`;
const EXPRESSION = new RegExp(String.raw`[-+(\s]*${OPERAND}(?:[\s()]*(?:[-+*/^%×÷,]|\*\*)[\s(]*${OPERAND}|[\s)]*\)|[(\s]*${OPERAND})*[\s)]*`, "gi");

/**
 * The arithmetic a text asks for, as an expression: "what is 12*(3+4)" → "12*(3+4)", "2的10次方加3"
 * → "2^10+3", "sqrt(16) * pi" as written. Null when there is nothing to compute (a lone number).
 */
export function expressionIn(text: string): string | null {
  let rewritten = text;
  for (const [pattern, replacement] of [...CHINESE_ARITHMETIC, ...ENGLISH_ARITHMETIC]) rewritten = rewritten.replace(pattern, replacement);
  let best: string | null = null;
  for (const match of rewritten.matchAll(EXPRESSION)) {
    const candidate = balance(match[0].trim());
    const hasNumber = /\d|\bpi\b|π/.test(candidate);
    const computes = /[-+*/^%×÷]|[a-z]\s*\(/i.test(candidate.replace(/^[-+]/, ""));
    if (hasNumber && computes && candidate.length > (best?.length ?? 0)) best = candidate;
  }
  return best;
}

/** Drops unmatched parentheses at the ends ("(3+4))" → "(3+4)"). */
function balance(expression: string): string {
  let result = expression;
  const count = (text: string, character: string) => text.split(character).length - 1;
  while (count(result, ")") > count(result, "(") && result.endsWith(")")) result = result.slice(0, -1).trimEnd();
  while (count(result, "(") > count(result, ")") && result.startsWith("(")) result = result.slice(1).trimStart();
  return result;
}

// ---------------------------------------------------------------------------------------------
// Free text

/** What a user asks to keep or process: a quoted part, else what follows a colon or the command word. */
export function payloadOf(text: string): string {
  const quoted = /["“「『]([^"”」』]+)["”」』]/.exec(text)?.[1];
  if (quoted) return quoted.trim();
  const afterCommand = /(?:remember|note (?:that|down)|save|store|keep in mind|don'?t forget|记住|记下|记一下)(?:\s+(?:that|to))?[:：,，\s]*(.+)$/i.exec(
    text,
  )?.[1];
  if (afterCommand && /[\p{L}\p{N}]/u.test(afterCommand)) return afterCommand.trim();
  const afterColon = /[:：]\s*(.+)$/s.exec(text)?.[1];
  if (afterColon) return afterColon.trim();
  return text.trim();
}
